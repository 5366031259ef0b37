/**
 * The live-server client (undici). Each operation gets an Idempotency-Key of its
 * own, so a retry after a lost connection, a 5xx or a 429 cannot apply it twice.
 */
import { randomUUID } from "node:crypto";
import { Pool, errors as undiciErrors } from "undici";
import { isErrorCode, WalletError } from "../core/errors.js";
import { signToken } from "../server/auth.js";
import type { WalletClient } from "./client.js";
import { ConnectionError, UsageError } from "./errors.js";

export type HttpClientOptions = { authMode: "userid" | "token"; authSecret?: string; token?: string; retries?: number };

export function createHttpClient(baseUrl: string, opts: HttpClientOptions): WalletClient {
  let origin: URL;
  try {
    origin = new URL(baseUrl);
  } catch {
    throw new ConnectionError(`--api ${baseUrl} is not a URL`);
  }
  const pool = new Pool(origin.origin, { connections: 4, headersTimeout: 30_000, bodyTimeout: 30_000 });
  const retries = opts.retries ?? 3;

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

  async function call<T>(method: "GET" | "POST", path: string, userId: number, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      authorization: await authorization(userId),
      "accept-encoding": "identity",
    };
    if (body !== undefined) {
      headers["content-type"] = "application/json";
      headers["idempotency-key"] = `cli-${randomUUID()}`;
    }
    for (let attempt = 0; ; attempt++) {
      let res;
      try {
        res = await pool.request({
          method,
          path,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      } catch (err) {
        if (attempt < retries) {
          await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
          continue;
        }
        const reason = err instanceof undiciErrors.UndiciError || err instanceof Error ? err.message : String(err);
        throw new ConnectionError(`could not reach the wallet server at ${origin.origin}: ${reason}`);
      }
      const text = await res.body.text();
      const retryable = res.statusCode >= 500 || res.statusCode === 429 || res.statusCode === 409;
      if (retryable && attempt < retries) {
        const after = Number(res.headers["retry-after"]);
        await new Promise((r) =>
          setTimeout(r, Number.isFinite(after) && after > 0 ? after * 1000 : 200 * 2 ** attempt),
        );
        continue;
      }
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        throw new ConnectionError(
          `the server at ${origin.origin} answered ${res.statusCode} with something that is not JSON`,
        );
      }
      if (res.statusCode >= 400) {
        const e = (json as { error?: { code?: string; message?: string } }).error;
        const code = e?.code && isErrorCode(e.code) ? e.code : "internal";
        throw new WalletError(code, e?.message ?? `HTTP ${res.statusCode}`);
      }
      return json as T;
    }
  }

  return {
    target: origin.origin,
    deposit: (userId, amount) => call("POST", "/api/deposit/v1", userId, { amount }),
    withdraw: (userId, amount) => call("POST", "/api/withdraw/v1", userId, { amount }),
    transfer: (from, to, amount) => call("POST", "/api/transfer/v1", from, { destination_user_id: to, amount }),
    transferAsync: (from, to, amount) => call("POST", "/api/transfer/v2", from, { destination_user_id: to, amount }),
    transferStatus: (userId, id) => call("GET", `/api/transfer/v2/${encodeURIComponent(id)}`, userId),
    balance: (userId) => call("GET", "/api/wallet/balance/v1", userId),
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
      call("GET", `/api/transactions/v1?type=${q.type}&page=${q.page}&page_size=${q.pageSize}`, userId),
    close: () => pool.close(),
  };
}
