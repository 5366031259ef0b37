import type { CoreContext } from "./context.js";
import { OpKind } from "./poster.js";
import { toOutcome, type IdempotencyInput, type Outcome, type WalletVersion } from "./outcome.js";

/** The shared path of deposit, withdraw and transfer: one operation through the poster. */
export async function moveMoney<T>(
  ctx: CoreContext,
  kind: OpKind,
  userId: number,
  counterpartyId: number | null,
  amount: number,
  idem: IdempotencyInput,
): Promise<Outcome<T>> {
  const r = await ctx.poster.post({
    kind,
    userId,
    counterpartyId,
    amount,
    idempotencyKey: idem.idempotencyKey ?? null,
    requestHash: idem.idempotencyKey ? (idem.requestHash ?? "") : null,
  });
  const versions: WalletVersion[] = [];
  if (r.userVersion !== null) versions.push({ userId, version: r.userVersion });
  if (r.counterpartyVersion !== null && counterpartyId !== null) {
    versions.push({ userId: counterpartyId, version: r.counterpartyVersion });
  }
  return toOutcome<T>(r.outcome, r.result, r.replayed, versions);
}
