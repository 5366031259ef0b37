import type { CoreContext } from "./context.js";

/** Keys are kept at least 24 h (the contract); an hour's margin, then they go. */
export const IDEMPOTENCY_KEY_HOURS = 25;

/**
 * Deletes expired idempotency keys in batches (short transactions, served by the
 * created_at index); returns how many went.
 */
export async function purgeIdempotencyKeys(
  ctx: CoreContext,
  olderThanHours = IDEMPOTENCY_KEY_HOURS,
  batch = 10_000,
): Promise<number> {
  let total = 0;
  for (;;) {
    const { rows } = await ctx.db.knex.raw<{ rows: Array<{ n: number }> }>(
      `with gone as (
         delete from idempotency_keys where (user_id, key) in (
           select user_id, key from idempotency_keys
            where created_at < now() - make_interval(hours => ?) limit ?)
         returning 1)
       select count(*)::int as n from gone`,
      [olderThanHours, batch],
    );
    total += rows[0]!.n;
    if (rows[0]!.n < batch) return total;
  }
}
