/**
 * The money path: every use case that moves money (or records a transfer) builds one
 * operation, gives it an id (its identity, before the first attempt) and sends it
 * through group commit to wallet_apply. Nothing else writes to wallets.
 */
import type { CoreContext } from "./context.js";
import type { ErrorCode } from "./errors.js";
import { toOutcome, type Idempotency, type Outcome } from "./outcome.js";
import { OpKind, type Operation } from "./store/ledger.js";

export { OpKind };

export type BalanceChange = { balance: number; transaction_id: string; currency: string };
export type HoldStatus = "held" | "captured" | "voided" | "expired";
export type HoldView = {
  hold_id: string;
  status: HoldStatus;
  amount: number;
  currency: string;
  captured_amount: number | null;
  user_id: number;
  destination_user_id: number | null;
  expires_at: string;
  created_at: string;
};
/** A hold as a place, capture or void answers it: with the payer's balances after it. */
export type HoldChange = HoldView & {
  balance: number;
  available_balance: number;
  /** a capture's id: transfer_id with a destination, transaction_id without */
  transfer_id?: string;
  transaction_id?: string;
};

/** A new hold's lifetime when none is asked for, and the longest allowed (7 days). */
export const HOLD_DEFAULT_SECONDS = 3600;
export const HOLD_MAX_SECONDS = 604_800;
export type TransferDone = { success: true; transfer_id: string; balance: number; currency: string };
export type TransferAccepted = { success: true; transfer_id: string; status: "pending" };

/** What a client may attach to any money-moving request: stored with what it makes; a condition on its version. */
export type Tags = { reference?: string; metadata?: Record<string, string>; expectedVersion?: number };

/** currency: the wallet's (absent: DEFAULT_CURRENCY); the edges have checked that it is accepted */
type Input = { userId: number; amount: number; currency?: string; idempotency?: Idempotency; tags?: Tags };
type TransferInput = Input & { toUserId: number };

/** Gives the operation its id and sends it through group commit: the one way a wallet changes. */
export async function run<T>(
  ctx: CoreContext,
  op: Omit<Operation, "id" | "idempotency">,
  idempotency?: Idempotency,
  tags?: Tags,
): Promise<Outcome<T>> {
  const id = await ctx.ids.take();
  const currency = op.currency ?? ctx.currencies.defaultCurrency;
  // assigned, not spread: `{ ...op, ...tags, ... }` made a slow object (2 µs, and every
  // later read of it slower) on Node 20
  const operation: Operation = Object.assign({}, op, tags) as Operation;
  operation.currency = currency;
  operation.id = id;
  operation.idempotency = idempotency;
  const r = await ctx.commits.submit(operation);
  return toOutcome<T>(r.outcome, r.result, r.replayed);
}

/** Adds amount cents to the user's wallet (opened if new); refused past 2^53-1. */
export function deposit(ctx: CoreContext, i: Input): Promise<Outcome<BalanceChange>> {
  const op = { kind: OpKind.Deposit, userId: i.userId, amount: i.amount, currency: i.currency };
  return run(ctx, op, i.idempotency, i.tags);
}

/** Takes amount cents from the user's wallet; refused (insufficient_funds) below 0. */
export function withdraw(ctx: CoreContext, i: Input): Promise<Outcome<BalanceChange>> {
  const op = { kind: OpKind.Withdraw, userId: i.userId, amount: i.amount, currency: i.currency };
  return run(ctx, op, i.idempotency, i.tags);
}

/** Transfer v1: both wallets locked in user-id order, both journal rows written in one transaction. */
export function transfer(ctx: CoreContext, i: TransferInput): Promise<Outcome<TransferDone>> {
  return run(
    ctx,
    { kind: OpKind.Transfer, userId: i.userId, counterpartyId: i.toUserId, amount: i.amount, currency: i.currency },
    i.idempotency,
    i.tags,
  );
}

/**
 * Transfer v2: records the transfer as pending (durably, before answering) and
 * refuses at once what can be known now: same_wallet, wallet_not_found. Funds are
 * judged when a worker applies it.
 */
export function acceptTransfer(ctx: CoreContext, i: TransferInput): Promise<Outcome<TransferAccepted>> {
  return run(
    ctx,
    {
      kind: OpKind.AcceptTransfer,
      userId: i.userId,
      counterpartyId: i.toUserId,
      amount: i.amount,
      currency: i.currency,
    },
    i.idempotency,
    i.tags,
  );
}

/** Reserves amount cents of the payer's available balance until captured, voided or expired. */
export function placeHold(
  ctx: CoreContext,
  i: Input & { toUserId?: number; expiresInSeconds?: number },
): Promise<Outcome<HoldChange>> {
  return run(
    ctx,
    {
      kind: OpKind.PlaceHold,
      userId: i.userId,
      counterpartyId: i.toUserId,
      amount: i.amount,
      currency: i.currency,
      expiresInSeconds: i.expiresInSeconds ?? HOLD_DEFAULT_SECONDS,
    },
    i.idempotency,
    i.tags,
  );
}

/**
 * Captures a hold (whole, or amount of it; the rest is released). actorId: who asks
 * (the destination, or the payer of a hold without one); absent: the operator.
 */
export function captureHold(
  ctx: CoreContext,
  i: { holdId: string; actorId?: number; amount?: number; idempotency?: Idempotency; tags?: Tags },
): Promise<Outcome<HoldChange>> {
  const op = { kind: OpKind.CaptureHold, userId: i.actorId, target: i.holdId, amount: i.amount };
  return run(ctx, op, i.idempotency, i.tags);
}

/** Releases a hold. actorId as for captureHold. */
export function voidHold(
  ctx: CoreContext,
  i: { holdId: string; actorId?: number; idempotency?: Idempotency; tags?: Tags },
): Promise<Outcome<HoldChange>> {
  return run(ctx, { kind: OpKind.VoidHold, userId: i.actorId, target: i.holdId }, i.idempotency, i.tags);
}

/** What each operation may refuse with (declared once: the routes and the OpenAPI document read it). */
export const REFUSALS = {
  deposit: ["balance_limit_exceeded", "version_mismatch"],
  withdraw: ["insufficient_funds", "wallet_frozen", "version_mismatch"],
  transfer: [
    "wallet_not_found",
    "insufficient_funds",
    "same_wallet",
    "balance_limit_exceeded",
    "wallet_frozen",
    "version_mismatch",
  ],
  acceptTransfer: ["wallet_not_found", "same_wallet", "wallet_frozen", "version_mismatch"],
  placeHold: ["insufficient_funds", "same_wallet", "wallet_not_found", "wallet_frozen", "version_mismatch"],
  captureHold: [
    "not_found",
    "forbidden",
    "hold_not_active",
    "amount_exceeds_hold",
    "balance_limit_exceeded",
    "wallet_frozen",
    "version_mismatch",
  ],
  voidHold: ["not_found", "forbidden", "hold_not_active"],
  createQuote: ["rate_unavailable", "amount_too_small", "balance_limit_exceeded"],
  exchange: [
    "not_found",
    "quote_used",
    "quote_expired",
    "insufficient_funds",
    "wallet_frozen",
    "balance_limit_exceeded",
    "version_mismatch",
  ],
} as const satisfies Record<string, readonly ErrorCode[]>;
