/**
 * A client's batch: up to 100 operations of one user applied in order, all or none,
 * as one write. It travels as one operation of kind Batch (its operations inside it)
 * through group commit to wallet_apply, which runs them in a subtransaction: the
 * first refusal undoes the batch's earlier operations and nothing else of the call.
 * The batch's id is its identity (a retry after a lost connection finds it applied,
 * or applies it); its Idempotency-Key covers the whole batch.
 */
import type { CoreContext } from "./context.js";
import { WalletError, type ErrorCode } from "./errors.js";
import { toOutcome, type Idempotency, type Outcome } from "./outcome.js";
import { OpKind, type Operation } from "./store/ledger.js";

export const BATCH_MAX_OPERATIONS = 100;

/** One operation of a batch as the edge built it; target may be "$i": the hold made by operation i. */
export type BatchItem = Omit<Operation, "id" | "idempotency" | "batch" | "userId">;

export type BatchDone = { batch_id: string; results: unknown[] };
export type BatchRefusal = { index: number; code: ErrorCode };
export type BatchOutcome =
  (Outcome<BatchDone> & { ok: true }) | { ok: false; code: ErrorCode; replayed: boolean; details?: BatchRefusal };

const HOLD_REF = /^\$(0|[1-9][0-9]{0,2})$/;

/** Gives each operation its id and resolves "$i" to the id of the hold operation i makes. */
export async function buildBatch(ctx: CoreContext, userId: number, items: BatchItem[]): Promise<Operation[]> {
  const ops: Operation[] = [];
  for (const [index, item] of items.entries()) {
    let target = item.target;
    if (target !== undefined && target.startsWith("$")) {
      const m = HOLD_REF.exec(target);
      const named = m ? Number(m[1]) : -1;
      if (named < 0 || named >= index || items[named]!.kind !== OpKind.PlaceHold) {
        throw new WalletError(
          "invalid_request",
          `operations[${index}]: ${target} must name an earlier operation that places a hold`,
          { index },
        );
      }
      target = ops[named]!.id;
    }
    ops.push({ ...item, target, userId, id: await ctx.ids.take() });
  }
  return ops;
}

/** Applies the batch: 200 with every operation's answer, or batch_refused naming the first refusal. */
export async function applyBatch(
  ctx: CoreContext,
  b: { userId: number; items: BatchItem[]; idempotency?: Idempotency },
): Promise<BatchOutcome> {
  const batch = await buildBatch(ctx, b.userId, b.items);
  const id = await ctx.ids.take();
  const r = await ctx.commits.submit({ kind: OpKind.Batch, id, userId: b.userId, batch, idempotency: b.idempotency });
  if (r.outcome === "batch_refused") {
    return { ok: false, code: "batch_refused", replayed: r.replayed, details: r.result as BatchRefusal };
  }
  return toOutcome<BatchDone>(r.outcome, r.result, r.replayed) as BatchOutcome;
}
