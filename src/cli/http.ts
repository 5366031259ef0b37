/**
 * HTTP to a live server (undici). Every POST gets an Idempotency-Key of its own, so a
 * retry after a lost connection, a 5xx, a 429 or a 409 cannot apply it twice; an
 * error answer becomes the WalletError of its code.
 */
import { randomUUID } from "node:crypto";
import { Pool, errors as undiciErrors } from "undici";
import { isErrorCode, WalletError } from "../core/errors.js";
import { ConnectionError } from "./errors.js";

export type Transport = {
  origin: string;
  call<T>(method: "GET" | "POST" | "PUT", path: string, headers: Record<string, string>, body?: unknown): Promise<T>;
  close(): Promise<void>;
};

export function createTransport(baseUrl: string, retries = 3): Transport {
  let origin: URL;
  try {
    origin = new URL(baseUrl);
  } catch {
    throw new ConnectionError(`--api ${baseUrl} is not a URL`);
  }
  const pool = new Pool(origin.origin, { connections: 4, headersTimeout: 30_000, bodyTimeout: 30_000 });

  async function call<T>(
    method: "GET" | "POST" | "PUT",
    path: string,
    extra: Record<string, string>,
    body?: unknown,
  ): Promise<T> {
    const headers: Record<string, string> = { ...extra, "accept-encoding": "identity" };
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
        const e = (json as { error?: { code?: string; message?: string; details?: Record<string, unknown> } }).error;
        const code = e?.code && isErrorCode(e.code) ? e.code : "internal";
        throw new WalletError(code, e?.message ?? `HTTP ${res.statusCode}`, e?.details);
      }
      return json as T;
    }
  }

  return { origin: origin.origin, call, close: () => pool.close() };
}
