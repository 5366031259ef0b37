import type { CoreContext } from "./context.js";
import { deleteExpiredKeys } from "./store/maintenance.js";

/** Keys are kept at least 24 h (the contract); an hour's margin, then they go. */
export const IDEMPOTENCY_KEY_HOURS = 25;

/** Deletes expired idempotency keys; returns how many went. */
export function purgeIdempotencyKeys(
  ctx: CoreContext,
  olderThanHours = IDEMPOTENCY_KEY_HOURS,
  batch = 10_000,
): Promise<number> {
  return deleteExpiredKeys(ctx.db, olderThanHours, batch);
}
