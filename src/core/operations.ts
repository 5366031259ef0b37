/**
 * The money path: every use case that moves money (or records a transfer) builds one
 * operation, gives it an id (its identity, before the first attempt) and sends it
 * through group commit to wallet_apply. Nothing else writes to wallets.
 */
import type { CoreContext } from "./context.js";
import type { ErrorCode } from "./errors.js";
import { toOutcome, type Idempotency, type Outcome } from "./outcome.js";
import { OpKind, type OpRow } from "./store/ledger.js";

export { OpKind };

export type BalanceChange = { balance: number; transaction_id: string };
export type TransferDone = { success: true; transfer_id: string; balance: number };
export type TransferAccepted = { success: true; transfer_id: string; status: "pending" };

type Input = { userId: number; amount: number; idempotency?: Idempotency };
type TransferInput = Input & { toUserId: number };

async function run<T>(ctx: CoreContext, op: Omit<OpRow, "id" | "key" | "h">, idem?: Idempotency): Promise<Outcome<T>> {
  const id = await ctx.ids.take();
  const row: OpRow = idem ? { ...op, id, key: idem.key, h: idem.hash } : { ...op, id };
  const r = await ctx.commits.submit(row);
  return toOutcome<T>(r.outcome, r.result, r.replayed);
}

/** Adds amount cents to the user's wallet (opened if new); refused past 2^53-1. */
export function deposit(ctx: CoreContext, i: Input): Promise<Outcome<BalanceChange>> {
  return run(ctx, { k: OpKind.Deposit, u: i.userId, a: i.amount }, i.idempotency);
}

/** Takes amount cents from the user's wallet; refused (insufficient_funds) below 0. */
export function withdraw(ctx: CoreContext, i: Input): Promise<Outcome<BalanceChange>> {
  return run(ctx, { k: OpKind.Withdraw, u: i.userId, a: i.amount }, i.idempotency);
}

/** Transfer v1: both wallets locked in user-id order, both journal rows written in one transaction. */
export function transfer(ctx: CoreContext, i: TransferInput): Promise<Outcome<TransferDone>> {
  return run(ctx, { k: OpKind.Transfer, u: i.userId, c: i.toUserId, a: i.amount }, i.idempotency);
}

/**
 * Transfer v2: records the transfer as pending (durably, before answering) and
 * refuses at once what can be known now: same_wallet, wallet_not_found. Funds are
 * judged when a worker applies it.
 */
export function acceptTransfer(ctx: CoreContext, i: TransferInput): Promise<Outcome<TransferAccepted>> {
  return run(ctx, { k: OpKind.AcceptTransfer, u: i.userId, c: i.toUserId, a: i.amount }, i.idempotency);
}

/** What each operation may refuse with (declared once: the routes and the OpenAPI document read it). */
export const REFUSALS = {
  deposit: ["balance_limit_exceeded"],
  withdraw: ["insufficient_funds"],
  transfer: ["wallet_not_found", "insufficient_funds", "same_wallet", "balance_limit_exceeded"],
  acceptTransfer: ["wallet_not_found", "same_wallet"],
} as const satisfies Record<string, readonly ErrorCode[]>;
