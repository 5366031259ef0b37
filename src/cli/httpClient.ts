/** The live-server client for users' operations, over the shared transport. */
import { signToken } from "../server/auth.js";
import type { WalletClient } from "./client.js";
import { UsageError } from "./errors.js";
import { createTransport } from "./http.js";

export type HttpClientOptions = { authMode: "userid" | "token"; authSecret?: string; token?: string; retries?: number };

export function createHttpClient(baseUrl: string, opts: HttpClientOptions): WalletClient {
  const transport = createTransport(baseUrl, opts.retries);

  /** Over the API a hold is acted on as a user: the one given with --user. */
  function actor(userId: number | undefined): number {
    if (userId === undefined) throw new UsageError("over the API, --user must say who acts on the hold");
    return userId;
  }

  async function authorization(userId: number): Promise<string> {
    if (opts.token) return `Bearer ${opts.token}`;
    if (opts.authMode === "token" && opts.authSecret) return `Bearer ${await signToken(opts.authSecret, userId, 300)}`;
    return String(userId);
  }

  const call = async <T>(method: "GET" | "POST", path: string, userId: number, body?: unknown): Promise<T> =>
    transport.call<T>(method, path, { authorization: await authorization(userId) }, body);

  return {
    target: transport.origin,
    deposit: (userId, amount) => call("POST", "/api/deposit/v1", userId, { amount }),
    withdraw: (userId, amount) => call("POST", "/api/withdraw/v1", userId, { amount }),
    transfer: (from, to, amount) => call("POST", "/api/transfer/v1", from, { destination_user_id: to, amount }),
    transferAsync: (from, to, amount) => call("POST", "/api/transfer/v2", from, { destination_user_id: to, amount }),
    transferStatus: (userId, id) => call("GET", `/api/transfer/v2/${encodeURIComponent(id)}`, userId),
    balance: (userId) => call("GET", "/api/wallet/balance/v1", userId),
    balanceAt: (userId, at) => call("GET", `/api/wallet/balance/v1?at=${encodeURIComponent(at.toISOString())}`, userId),
    events: (userId, q) =>
      call("GET", `/api/events/v1?after=${q.after}&limit=${q.limit}&wait=${q.waitSeconds}`, userId),
    statement: (userId, from, to) =>
      call(
        "GET",
        `/api/statements/v1?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}`,
        userId,
      ),
    placeHold: (h) =>
      call("POST", "/api/holds/v1", h.userId, {
        amount: h.amount,
        ...(h.toUserId ? { destination_user_id: h.toUserId } : {}),
        ...(h.expiresInSeconds ? { expires_in_seconds: h.expiresInSeconds } : {}),
      }),
    captureHold: (h) =>
      call("POST", `/api/holds/v1/${encodeURIComponent(h.holdId)}/capture`, actor(h.actorId), {
        ...(h.amount ? { amount: h.amount } : {}),
      }),
    voidHold: (h) => call("POST", `/api/holds/v1/${encodeURIComponent(h.holdId)}/void`, actor(h.actorId), {}),
    getHold: (h) => call("GET", `/api/holds/v1/${encodeURIComponent(h.holdId)}`, actor(h.viewerId)),
    listHolds: (userId, q) =>
      call(
        "GET",
        `/api/holds/v1?page=${q.page}&page_size=${q.pageSize}${q.status ? `&status=${q.status}` : ""}`,
        userId,
      ),
    history: (userId, q) =>
      call(
        "GET",
        `/api/transactions/v1?type=${q.type}&page=${q.page}&page_size=${q.pageSize}${
          q.cursor !== undefined ? `&cursor=${encodeURIComponent(q.cursor)}` : ""
        }`,
        userId,
      ),
    close: () => transport.close(),
  };
}
