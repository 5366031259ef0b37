/**
 * The calls that move money: wallet_apply for every request (one call and one
 * commit for a whole group-commit batch) and wallet_process_transfers for a worker's
 * step. Both are PL/pgSQL functions (migrations/) that lock wallets in user-id order,
 * return refusals as data and write the journal in the same transaction.
 */
import type { Executor } from "../db/index.js";
import type { Idempotency } from "../outcome.js";

export const enum OpKind {
  Deposit = 1,
  Withdraw = 2,
  Transfer = 3,
  AcceptTransfer = 4,
  PlaceHold = 5,
  CaptureHold = 6,
  VoidHold = 7,
  Reverse = 8,
  Adjust = 9,
  Freeze = 10,
  Unfreeze = 11,
  Exchange = 12,
  Quote = 13,
  /** a client's batch: its operations (batch) all applied in order, or none */
  Batch = 14,
}

/** One operation that moves money (or records a transfer), in the code's names. */
export type Operation = {
  kind: OpKind;
  /** the operation's id, made before its first attempt: its identity in the database */
  id: string;
  /** the acting user; absent: the operator (the direct-mode CLI) */
  userId?: number;
  /** the counterparty (a transfer's or a hold's destination; the wallet an operator acts on) */
  counterpartyId?: number;
  amount?: number;
  /** the wallet's currency (the edge fills in DEFAULT_CURRENCY); a quote's from currency */
  currency?: string;
  /** a quote's to currency, and its minor unit digits less those of the from currency */
  toCurrency?: string;
  shift?: number;
  /** the hold a capture or void acts on; the transaction or transfer a reversal reverses; the quote an exchange executes */
  target?: string;
  /** a new hold's lifetime in seconds */
  expiresInSeconds?: number;
  /** an operator action's actor and reason */
  actor?: string;
  reason?: string;
  /** Idempotency-Key and the hash of the request it came with: always together */
  idempotency?: Idempotency;
  /** the client's reference and metadata, stored with the rows, hold or transfer it makes */
  reference?: string;
  metadata?: Record<string, string>;
  /** applied only if the wallet it debits is at this version (else version_mismatch) */
  expectedVersion?: number;
  /** a Batch's operations (ids given, `$i` resolved) */
  batch?: Operation[];
};

/**
 * wallet_apply reads each operation with jsonb_populate_recordset into the wallet_op
 * type, whose attributes have short names (migrations 002-004, 008): this is the one
 * place the two spellings meet. Ids travel as strings; the Idempotency-Key and its
 * request hash as key and h.
 */
type WireOp = {
  k: OpKind;
  id: string;
  u?: number;
  c?: number;
  a?: number;
  cur?: string;
  cur_to?: string;
  shift?: number;
  r?: string;
  e?: number;
  actor?: string;
  reason?: string;
  key?: string;
  h?: string;
  ref?: string;
  meta?: Record<string, string>;
  ev?: number;
  ops?: WireOp[];
};

// Field by field, only what is set: a literal of every field then spread (the earlier
// form) cost about 5 µs an operation on Node 20 (CloneObjectIC on a wide object with
// undefined values), the largest single cost of a transfer's own JavaScript (bench/README.md).
function toWire(op: Operation): WireOp {
  const w: WireOp = { k: op.kind, id: op.id };
  if (op.userId !== undefined) w.u = op.userId;
  if (op.counterpartyId !== undefined) w.c = op.counterpartyId;
  if (op.amount !== undefined) w.a = op.amount;
  if (op.currency !== undefined) w.cur = op.currency;
  if (op.toCurrency !== undefined) w.cur_to = op.toCurrency;
  if (op.shift !== undefined) w.shift = op.shift;
  if (op.target !== undefined) w.r = op.target;
  if (op.expiresInSeconds !== undefined) w.e = op.expiresInSeconds;
  if (op.actor !== undefined) w.actor = op.actor;
  if (op.reason !== undefined) w.reason = op.reason;
  if (op.reference !== undefined) w.ref = op.reference;
  if (op.metadata !== undefined) w.meta = op.metadata;
  if (op.expectedVersion !== undefined) w.ev = op.expectedVersion;
  if (op.batch !== undefined) w.ops = op.batch.map(toWire);
  if (op.idempotency !== undefined) {
    w.key = op.idempotency.key;
    w.h = op.idempotency.hash;
  }
  return w;
}

export type OpResult = {
  outcome: string;
  result: Record<string, unknown> | null;
  replayed: boolean;
  /** the wallets it changed, as user, version pairs */
  changes: number[] | null;
};

/**
 * Applies ops in order in one transaction. retry: an earlier attempt's outcome is
 * unknown, so an op already applied is answered from what it stored.
 */
export async function applyOperations(db: Executor, ops: Operation[], retry: boolean): Promise<OpResult[]> {
  // changes as "user,version,...": split here in 0.2 µs, where the driver's generic int8[]
  // parser (strings, trimmed, then numbers) took 0.8-1.0 µs a row (bench/README.md)
  const rows = await db.query<Omit<OpResult, "changes"> & { ord: number; changes: string | null }>(
    "select ord, outcome, result, replayed, array_to_string(changes, ',') as changes from wallet_apply($1::jsonb, $2)",
    [JSON.stringify(ops.map(toWire)), retry],
    { name: "wallet_apply" },
  );
  const out = new Array<OpResult>(ops.length);
  for (const r of rows) {
    const c = r.changes;
    out[r.ord - 1] = {
      outcome: r.outcome,
      result: r.result,
      replayed: r.replayed,
      changes: c === null ? null : c === "" ? [] : c.split(",").map(Number),
    };
  }
  return out;
}

export type ProcessedTransfer = {
  id: string;
  outcome: string;
  error: string | null;
  attempts: number | null;
  /** applied: the wallets it changed, as user, version pairs */
  changes: number[] | null;
};

/** A worker's step: claim up to limit due transfers, apply them, mark them (one call, one commit). */
export function processTransfers(
  db: Executor,
  limit: number,
  maxAttempts: number,
  retryBaseMs: number,
  retryCapMs: number,
): Promise<ProcessedTransfer[]> {
  return db.query<ProcessedTransfer>(
    "select id::text as id, outcome, error, attempts, changes from wallet_process_transfers($1, $2, $3, $4)",
    [limit, maxAttempts, retryBaseMs, retryCapMs],
  );
}
