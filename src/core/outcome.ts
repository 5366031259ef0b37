import { ERROR_CODES, isErrorCode, WalletError, type ErrorCode } from "./errors.js";

/**
 * What a money-moving use case returns: its response data, or a refusal code, and
 * whether it is the stored answer of an earlier request with the same
 * Idempotency-Key. Refusals are data, not exceptions: they are answers to store
 * and replay like any other.
 */
export type Outcome<T> =
  | { ok: true; value: T; replayed: boolean }
  | { ok: false; code: ErrorCode; replayed: boolean; details?: Record<string, unknown> };

/** An outcome the database returned that this code does not know is a bug: thrown, logged, answered `internal`. */
export function toOutcome<T>(outcome: string, result: unknown, replayed: boolean): Outcome<T> {
  if (outcome === "ok" || outcome === "accepted") return { ok: true, value: result as T, replayed };
  if (isErrorCode(outcome)) {
    // a refusal's result, when it has one, is its details (limit_exceeded: limit, remaining, resets_at)
    if (result !== null && typeof result === "object") {
      return { ok: false, code: outcome, replayed, details: result as Record<string, unknown> };
    }
    return { ok: false, code: outcome, replayed };
  }
  throw new Error(`the database returned an unknown outcome '${outcome}'`);
}

/** For callers that want an exception (the CLI's direct mode). */
export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new WalletError(outcome.code, ERROR_CODES[outcome.code].message, outcome.details);
}

/** A request's Idempotency-Key and the hash of the request it came with: never one without the other. */
export type Idempotency = { key: string; hash: string };
