import { ERROR_CODES, isErrorCode, WalletError, type ErrorCode } from "./errors.js";

/**
 * What a money-moving use case returns: its response data, or a refusal code, and
 * whether it is the stored answer of an earlier request with the same
 * Idempotency-Key. Refusals are data, not exceptions: they are answers to store
 * and replay like any other.
 */
export type Outcome<T> =
  | { ok: true; value: T; replayed: boolean; versions: WalletVersion[] }
  | { ok: false; code: ErrorCode; replayed: boolean; versions: WalletVersion[] };

/** A wallet's version after a write: the cache keys balance and history by it. */
export type WalletVersion = { userId: number; version: number };

export function toOutcome<T>(
  outcome: string,
  result: unknown,
  replayed: boolean,
  versions: WalletVersion[],
): Outcome<T> {
  if (outcome === "ok" || outcome === "accepted") {
    return { ok: true, value: result as T, replayed, versions };
  }
  return { ok: false, code: isErrorCode(outcome) ? outcome : "internal", replayed, versions };
}

/** For callers that want an exception (the CLI's direct mode). */
export function unwrap<T>(outcome: Outcome<T>): T {
  if (outcome.ok) return outcome.value;
  throw new WalletError(outcome.code, ERROR_CODES[outcome.code].message);
}

/** The idempotency part of a request: the key and a hash of what it asks. */
export type IdempotencyInput = { idempotencyKey?: string; requestHash?: string };
