/**
 * What a failed database call says about its outcome. Only a known rollback may be
 * sent again as it was; after an unknown outcome the call may have committed, so it
 * is sent again only with its write identity (wallet_apply's p_retry), which answers
 * an operation already applied from what it stored.
 */

/**
 * rollback: the server rolled the transaction back; sending it again is safe.
 *   40001 serialization_failure, 40P01 deadlock_detected, 55P03 lock_not_available,
 *   57014 query_canceled (a statement timeout).
 * unknown: the connection failed or the server went away; the commit may have happened.
 *   Class 08 (connection exceptions), 57P01 admin_shutdown, 57P02 crash_shutdown,
 *   57P03 cannot_connect_now, 53300 too_many_connections, socket errors (node's codes),
 *   timeouts.
 *   Also 25006 read_only_sql_transaction: the connection reached a standby (during a
 *   failover, a node not yet promoted or just demoted behind the proxy). Nothing was
 *   applied, but the connection must go and the call wait for the new primary, as
 *   for a lost connection (a write then asks again by identity: safe either way).
 * error: a definite error of the statement itself (bad input to SQL, a bug).
 */
export type FailureKind = "rollback" | "unknown" | "error";

const ROLLBACK_STATES = new Set(["40001", "40P01", "55P03", "57014"]);
const UNKNOWN_STATES = new Set(["57P01", "57P02", "57P03", "53300", "25006"]);
const SOCKET_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "EHOSTDOWN",
  "ENETUNREACH",
  "ENETDOWN",
  "ENOTFOUND",
  "EAI_AGAIN",
  "ERR_SOCKET_CLOSED",
  "ERR_STREAM_DESTROYED",
  "ERR_STREAM_WRITE_AFTER_END",
]);
/**
 * pg and pg-pool raise these without a code (pg/lib/client.js, pg-pool/index.js), so
 * their text is all there is to go by: read only when the error carries no code.
 */
const CONNECTION_MESSAGE =
  /connection terminated|connection error|not queryable|timeout exceeded when trying to connect|query read timeout|client was closed|cannot use a pool after calling end|terminating connection|server closed the connection/i;

/** A call that did not answer within its time: the connection was closed under it. */
export class DatabaseTimeoutError extends Error {
  override name = "DatabaseTimeoutError";
  readonly code = "ETIMEDOUT";
}

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

export function classifyFailure(err: unknown): FailureKind {
  const code = (err as { code?: unknown } | null)?.code;
  // before the SQLSTATE: "EPIPE" has the shape of one
  if (typeof code === "string" && SOCKET_CODES.has(code)) return "unknown";
  const state = sqlState(err);
  if (state !== undefined) {
    if (ROLLBACK_STATES.has(state)) return "rollback";
    if (UNKNOWN_STATES.has(state) || state.startsWith("08")) return "unknown";
    return "error";
  }
  if (code !== undefined && code !== null) return "error";
  // last resort, for the driver's own errors that carry no code
  const message = err instanceof Error ? err.message : String(err);
  return CONNECTION_MESSAGE.test(message) ? "unknown" : "error";
}

/** The database cannot be reached (or answer) now: the client should come back later. */
export function isUnavailable(err: unknown): boolean {
  return classifyFailure(err) === "unknown";
}
