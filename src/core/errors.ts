/**
 * Domain errors with stable machine codes. One table maps each code to its HTTP
 * status, its gRPC status (from the HTTP status, by GRPC_BY_HTTP below), its CLI
 * exit status and a message for a person; the HTTP server, the gRPC server and the
 * CLI all read it, so a refusal looks the same through each and they cannot drift.
 */

/** gRPC status codes (grpc.status), by the HTTP status each error code has. */
export const GRPC_BY_HTTP = {
  400: 3, // INVALID_ARGUMENT
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 5, // NOT_FOUND
  405: 12, // UNIMPLEMENTED
  409: 10, // ABORTED
  413: 8, // RESOURCE_EXHAUSTED
  422: 9, // FAILED_PRECONDITION
  429: 8, // RESOURCE_EXHAUSTED
  500: 13, // INTERNAL
  503: 14, // UNAVAILABLE
} as const;

export const ERROR_CODES = {
  invalid_request: { status: 400, exit: 2, message: "The request is not valid." },
  unauthorized: { status: 401, exit: 1, message: "Missing or invalid credentials." },
  not_found: { status: 404, exit: 1, message: "Not found." },
  forbidden: { status: 403, exit: 1, message: "You may see this, but not act on it." },
  wallet_not_found: { status: 404, exit: 1, message: "The destination wallet does not exist." },
  method_not_allowed: { status: 405, exit: 1, message: "Method not allowed on this path." },
  idempotency_key_in_progress: {
    status: 409,
    exit: 1,
    message: "A request with this Idempotency-Key is still being processed; retry shortly.",
  },
  hold_not_active: {
    status: 409,
    exit: 1,
    message: "The hold is no longer held (captured, voided or expired).",
  },
  payload_too_large: { status: 413, exit: 1, message: "The request body is larger than 64 KiB." },
  idempotency_key_reused: {
    status: 422,
    exit: 1,
    message: "This Idempotency-Key was already used with a different request.",
  },
  insufficient_funds: { status: 422, exit: 1, message: "The available balance is too low for this operation." },
  amount_exceeds_hold: { status: 422, exit: 1, message: "The amount is more than the hold reserves." },
  same_wallet: { status: 422, exit: 1, message: "A transfer or hold needs two different wallets." },
  balance_limit_exceeded: {
    status: 422,
    exit: 1,
    message: "The operation would take a balance above 9007199254740991 cents.",
  },
  transfer_not_dead: {
    status: 409,
    exit: 1,
    message: "Only a dead-lettered transfer can be re-queued.",
  },
  wallet_frozen: { status: 422, exit: 1, message: "The wallet is frozen: money cannot leave it." },
  reversal_exceeds_original: {
    status: 422,
    exit: 1,
    message: "The reversals of a transaction cannot add up to more than its amount.",
  },
  not_reversible: {
    status: 422,
    exit: 1,
    message: "Only a completed deposit, withdrawal or transfer can be reversed.",
  },
  currency_not_supported: {
    status: 422,
    exit: 1,
    message: "This currency is a valid ISO 4217 code but this service does not accept it.",
  },
  rate_unavailable: { status: 422, exit: 1, message: "No exchange rate is set for this pair of currencies." },
  amount_too_small: {
    status: 422,
    exit: 1,
    message: "The amount converts to less than one minor unit of the target currency.",
  },
  delivery_not_failed: { status: 409, exit: 1, message: "Only a failed webhook delivery can be sent again." },
  batch_refused: {
    status: 422,
    exit: 1,
    message: "An operation of the batch was refused, so none of them was applied (details name it).",
  },
  version_mismatch: {
    status: 409,
    exit: 1,
    message: "The wallet is no longer at expected_version: read its balance again and decide anew.",
  },
  limit_exceeded: {
    status: 422,
    exit: 1,
    message: "The operation would pass a limit of the wallet's tier (see details).",
  },
  quote_used: { status: 409, exit: 1, message: "This quote has already been executed." },
  quote_expired: { status: 409, exit: 1, message: "This quote has expired; ask for a new one." },
  rate_limited: { status: 429, exit: 1, message: "Too many requests; slow down." },
  internal: { status: 500, exit: 1, message: "Internal error; the server logs have the details." },
  unavailable: {
    status: 503,
    exit: 1,
    message:
      "The database cannot be reached right now; retry shortly. A write answered this way may have been applied: retry it with the same Idempotency-Key.",
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The gRPC status code of an error code. */
export function grpcStatusOf(code: ErrorCode): number {
  return GRPC_BY_HTTP[ERROR_CODES[code].status];
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.prototype.hasOwnProperty.call(ERROR_CODES, code);
}

export class WalletError extends Error {
  readonly code: ErrorCode;
  /** more about the refusal, answered as error.details (a batch's refused index; limit_exceeded: which limit, what remains, when it resets) */
  readonly details?: Record<string, unknown>;
  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>) {
    super(message ?? ERROR_CODES[code].message);
    this.name = "WalletError";
    this.code = code;
    if (details) this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }
}
