/** The live-server client for users' operations, over the shared transport. */
import { signToken } from "../server/auth.js";
import type { WalletClient } from "./client.js";
import { UsageError } from "./errors.js";
import { createTransport } from "./http.js";
import { tagBody } from "./tags.js";

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

  /** the body's currency field, only when one was named (absent: the server's default) */
  const cur = (currency?: string) => (currency === undefined ? {} : { currency });
  /** "&currency=X" for a query that has other parameters, when one was named */
  const q = (currency?: string) => (currency === undefined ? "" : `&currency=${encodeURIComponent(currency)}`);

  return {
    target: transport.origin,
    deposit: (userId, amount, c, t) => call("POST", "/api/deposit/v1", userId, { amount, ...cur(c), ...tagBody(t) }),
    withdraw: (userId, amount, c, t) => call("POST", "/api/withdraw/v1", userId, { amount, ...cur(c), ...tagBody(t) }),
    transfer: (from, to, amount, c, t) =>
      call("POST", "/api/transfer/v1", from, { destination_user_id: to, amount, ...cur(c), ...tagBody(t) }),
    transferAsync: (from, to, amount, c, t) =>
      call("POST", "/api/transfer/v2", from, { destination_user_id: to, amount, ...cur(c), ...tagBody(t) }),
    batch: (userId, operations) => call("POST", "/api/batches/v1", userId, { operations }),
    transferStatus: (userId, id) => call("GET", `/api/transfer/v2/${encodeURIComponent(id)}`, userId),
    balance: (userId, c) =>
      call("GET", `/api/wallet/balance/v1${c === undefined ? "" : `?currency=${encodeURIComponent(c)}`}`, userId),
    balances: (userId) => call("GET", "/api/wallet/balances/v1", userId),
    limits: (userId, c) =>
      call("GET", `/api/limits/v1${c === undefined ? "" : `?currency=${encodeURIComponent(c)}`}`, userId),
    balanceAt: (userId, at, c) =>
      call("GET", `/api/wallet/balance/v1?at=${encodeURIComponent(at.toISOString())}${q(c)}`, userId),
    events: (userId, e) =>
      call("GET", `/api/events/v1?after=${e.after}&limit=${e.limit}&wait=${e.waitSeconds}`, userId),
    statement: (userId, from, to, c) =>
      call(
        "GET",
        `/api/statements/v1?from=${encodeURIComponent(from.toISOString())}&to=${encodeURIComponent(to.toISOString())}${q(c)}`,
        userId,
      ),
    placeHold: (h) =>
      call("POST", "/api/holds/v1", h.userId, {
        amount: h.amount,
        ...(h.toUserId ? { destination_user_id: h.toUserId } : {}),
        ...(h.expiresInSeconds ? { expires_in_seconds: h.expiresInSeconds } : {}),
        ...cur(h.currency),
      }),
    captureHold: (h) =>
      call("POST", `/api/holds/v1/${encodeURIComponent(h.holdId)}/capture`, actor(h.actorId), {
        ...(h.amount ? { amount: h.amount } : {}),
      }),
    voidHold: (h) => call("POST", `/api/holds/v1/${encodeURIComponent(h.holdId)}/void`, actor(h.actorId), {}),
    getHold: (h) => call("GET", `/api/holds/v1/${encodeURIComponent(h.holdId)}`, actor(h.viewerId)),
    listHolds: (userId, l) =>
      call(
        "GET",
        `/api/holds/v1?page=${l.page}&page_size=${l.pageSize}${l.status ? `&status=${l.status}` : ""}`,
        userId,
      ),
    history: (userId, h) =>
      call(
        "GET",
        `/api/transactions/v1?type=${h.type}&page=${h.page}&page_size=${h.pageSize}${
          h.cursor !== undefined ? `&cursor=${encodeURIComponent(h.cursor)}` : ""
        }${q(h.currency)}${h.reference === undefined ? "" : `&reference=${encodeURIComponent(h.reference)}`}`,
        userId,
      ),
    // the same rates for every user: asked as --user when given, else without credentials
    fxRates: async (viewerId) =>
      viewerId === undefined
        ? transport.call("GET", "/api/fx/rates/v1", {})
        : call("GET", "/api/fx/rates/v1", viewerId),
    createQuote: (x) =>
      call("POST", "/api/fx/quotes/v1", x.userId, { from_currency: x.from, to_currency: x.to, amount: x.amount }),
    exchange: (userId, quoteId) => call("POST", "/api/fx/exchanges/v1", userId, { quote_id: quoteId }),
    close: () => transport.close(),
  };
}
