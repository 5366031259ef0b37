import type { CoreContext } from "./context.js";
import { moveMoney } from "./moveMoney.js";
import type { IdempotencyInput, Outcome } from "./outcome.js";
import { OpKind } from "./poster.js";

export type BalanceChange = { balance: number; transaction_id: string };

/** Adds amount cents to the user's wallet (opened if new); refused past 2^53-1. */
export function deposit(
  ctx: CoreContext,
  input: { userId: number; amount: number } & IdempotencyInput,
): Promise<Outcome<BalanceChange>> {
  return moveMoney(ctx, OpKind.Deposit, input.userId, null, input.amount, input);
}
