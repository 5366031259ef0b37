import type { CoreContext } from "./context.js";
import { toOutcome, type IdempotencyInput, type Outcome } from "./outcome.js";

export type TransferAccepted = { success: true; transfer_id: string; status: "pending" };

/**
 * Transfer v2: records the transfer as pending (durably, before answering) and
 * refuses at once what can be known now: same_wallet, wallet_not_found. Funds are
 * judged when a worker applies it.
 */
export async function acceptTransfer(
  ctx: CoreContext,
  input: { fromUserId: number; toUserId: number; amount: number } & IdempotencyInput,
): Promise<Outcome<TransferAccepted>> {
  const r = await ctx.poster.accept({
    userId: input.fromUserId,
    toUserId: input.toUserId,
    amount: input.amount,
    idempotencyKey: input.idempotencyKey ?? null,
    requestHash: input.idempotencyKey ? (input.requestHash ?? "") : null,
  });
  return toOutcome<TransferAccepted>(r.outcome, r.result, r.replayed, []);
}
