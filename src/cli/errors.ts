import { ERROR_CODES, WalletError } from "../core/errors.js";

/** A mistake in how the command was called: exit status 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** The connection to a server or database failed: names what it could not reach. */
export class ConnectionError extends Error {
  override name = "ConnectionError";
}

export const EXIT = { ok: 0, refused: 1, usage: 2 } as const;

export function exitCodeOf(err: unknown): number {
  if (err instanceof UsageError) return EXIT.usage;
  if (err instanceof WalletError) return ERROR_CODES[err.code].exit;
  return EXIT.refused;
}
