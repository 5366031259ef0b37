import type { CoreContext } from "./context.js";
import { moveMoney } from "./moveMoney.js";
import type { IdempotencyInput, Outcome } from "./outcome.js";
import { OpKind } from "./poster.js";

export type TransferDone = { success: true; transfer_id: string; balance: number };

/**
 * A synchronous transfer: both wallets locked in user-id order, funds checked, both
 * balances, both ledger entries and the transfer row written in one transaction.
 */
export function transfer(
  ctx: CoreContext,
  input: { fromUserId: number; toUserId: number; amount: number } & IdempotencyInput,
): Promise<Outcome<TransferDone>> {
  return moveMoney(ctx, OpKind.Transfer, input.fromUserId, input.toUserId, input.amount, input);
}
