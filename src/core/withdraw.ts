import type { CoreContext } from "./context.js";
import type { BalanceChange } from "./deposit.js";
import { moveMoney } from "./moveMoney.js";
import type { IdempotencyInput, Outcome } from "./outcome.js";
import { OpKind } from "./poster.js";

/** Takes amount cents from the user's wallet; refused (insufficient_funds) below 0. */
export function withdraw(
  ctx: CoreContext,
  input: { userId: number; amount: number } & IdempotencyInput,
): Promise<Outcome<BalanceChange>> {
  return moveMoney(ctx, OpKind.Withdraw, input.userId, null, input.amount, input);
}
