/**
 * Idempotency-Key handling shared by every protocol: the key's form, and the hash of
 * the request it came with. The hash is of the operation (as the HTTP method and path
 * that carry it) and its validated fields in a canonical order, so that the same
 * operation with the same fields hashes the same whether HTTP or gRPC carried it: a
 * key is a key.
 */
import { createHash } from "node:crypto";
import { WalletError } from "../core/errors.js";
import type { Idempotency } from "../core/outcome.js";

const KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The value with every object's keys in order, at every depth (a batch's operations,
 * metadata). A flat body hashes as it always did (its keys sorted), so keys stored
 * before nested fields existed still match.
 */
function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v === null || typeof v !== "object") return v;
  const o = v as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sorted(o[k])]),
  );
}

/** operation: "POST /api/holds/v1/<id>/capture" (the path as sent); fields: the validated body. */
export function idempotencyOf(key: unknown, operation: string, fields: Record<string, unknown>): Idempotency {
  if (typeof key !== "string" || !KEY.test(key)) {
    throw new WalletError("invalid_request", "Idempotency-Key must be 1 to 255 visible ASCII characters.");
  }
  const canonical = JSON.stringify(sorted(fields));
  return { key, hash: createHash("sha256").update(`${operation}\n${canonical}`).digest("base64url") };
}
