/**
 * A batch's operations as the edges take them (HTTP, gRPC, the CLI's direct mode):
 * validated one by one (a malformed one is a 400 naming its index), in the core's
 * names, then applied as one batch.
 */
import { applyBatch, type BatchItem, type BatchOutcome } from "../core/batches.js";
import type { CoreContext } from "../core/context.js";
import { WalletError } from "../core/errors.js";
import { isId } from "../core/ids.js";
import { HOLD_DEFAULT_SECONDS, OpKind } from "../core/operations.js";
import type { Idempotency } from "../core/outcome.js";
import { BatchOperation, type BatchOperationBody } from "./batchSchemas.js";
import { describeIssues } from "./schemas.js";
import { tagsOf } from "./tagSchemas.js";

/** One validated operation in the core's names (currency resolved: outside CURRENCIES, a refusal of it). */
function toItem(ctx: CoreContext, o: BatchOperationBody): BatchItem {
  const tags = tagsOf(o);
  switch (o.type) {
    case "deposit":
    case "withdraw":
      return {
        kind: o.type === "deposit" ? OpKind.Deposit : OpKind.Withdraw,
        amount: o.amount,
        currency: ctx.currencies.resolve(o.currency),
        ...tags,
      };
    case "transfer":
      return {
        kind: OpKind.Transfer,
        counterpartyId: o.destination_user_id,
        amount: o.amount,
        currency: ctx.currencies.resolve(o.currency),
        ...tags,
      };
    case "hold":
      return {
        kind: OpKind.PlaceHold,
        counterpartyId: o.destination_user_id,
        amount: o.amount,
        currency: ctx.currencies.resolve(o.currency),
        expiresInSeconds: o.expires_in_seconds ?? HOLD_DEFAULT_SECONDS,
        ...tags,
      };
    case "capture":
      return { kind: OpKind.CaptureHold, target: o.hold_id, amount: o.amount, ...tags };
    case "void":
      return { kind: OpKind.VoidHold, target: o.hold_id, ...tags };
    case "exchange":
      return { kind: OpKind.Exchange, target: o.quote_id, ...tags };
  }
}

/** An id too large to name a row names none: 0 never exists, so the operation is refused not_found. */
const knownId = (id: string | undefined) => (id === undefined || id.startsWith("$") || isId(id) ? id : "0");

/** The items, or a refusal of one of them known before anything runs (currency_not_supported). */
function itemsOf(ctx: CoreContext, raw: unknown[]): BatchItem[] | { index: number; code: "currency_not_supported" } {
  const items: BatchItem[] = [];
  for (const [index, value] of raw.entries()) {
    const parsed = BatchOperation.safeParse(value);
    if (!parsed.success) {
      throw new WalletError("invalid_request", `operations[${index}]: ${describeIssues(parsed.error)}`, { index });
    }
    try {
      const item = toItem(ctx, parsed.data);
      items.push({ ...item, target: knownId(item.target) });
    } catch (err) {
      if (err instanceof WalletError && err.code === "currency_not_supported") return { index, code: err.code };
      throw err;
    }
  }
  return items;
}

/**
 * A batch's outcome: its operations validated (400 naming the index of a malformed
 * one), then applied. HTTP and gRPC both answer it.
 */
export async function batchOutcome(
  ctx: CoreContext,
  userId: number,
  operations: unknown[],
  idempotency: Idempotency | undefined,
): Promise<BatchOutcome> {
  const items = itemsOf(ctx, operations);
  if (!Array.isArray(items)) return { ok: false, code: "batch_refused", replayed: false, details: items };
  return applyBatch(ctx, { userId, items, idempotency });
}
