/** Reading holds: by id (its payer and destination only), and a payer's list. */
import type { CoreContext } from "./context.js";
import { WalletError } from "./errors.js";
import type { HoldStatus, HoldView } from "./operations.js";
import { expireHolds, selectHold, selectHolds } from "./store/holds.js";
import { isId } from "./ids.js";

/** One hold, as its payer or destination sees it; anyone else (and any unknown id) gets not_found. */
export async function getHold(ctx: CoreContext, i: { holdId: string; viewerUserId?: number }): Promise<HoldView> {
  const hold = isId(i.holdId) ? await selectHold(ctx.db, i.holdId) : undefined;
  if (
    !hold ||
    (i.viewerUserId !== undefined && hold.user_id !== i.viewerUserId && hold.destination_user_id !== i.viewerUserId)
  ) {
    throw new WalletError("not_found", "No such hold.");
  }
  return hold;
}

export type HoldPage = { holds: HoldView[]; page: number; page_size: number; has_more: boolean };

/** The user's holds as payer, newest first. */
export async function listHolds(
  ctx: CoreContext,
  q: { userId: number; status?: HoldStatus; page: number; pageSize: number },
): Promise<HoldPage> {
  const rows = await selectHolds(ctx.db, {
    userId: q.userId,
    status: q.status,
    limit: q.pageSize + 1,
    offset: (q.page - 1) * q.pageSize,
  });
  return { holds: rows.slice(0, q.pageSize), page: q.page, page_size: q.pageSize, has_more: rows.length > q.pageSize };
}

/**
 * The background marker: expired holds become `expired` and their amounts are no
 * longer held. Correctness never waits for it (every action judges expiry itself);
 * it keeps what is shown tidy. Returns how many it marked.
 */
export async function markExpiredHolds(ctx: CoreContext, batch = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await expireHolds(ctx.db, batch);
    total += n;
    if (n === 0) return total;
  }
}
