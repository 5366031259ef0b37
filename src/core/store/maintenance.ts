/** Housekeeping statements: readiness, the idempotency key purge. */
import type { Executor } from "../db/index.js";

/** One round trip; fails fast if the database is not there. */
export async function ping(db: Executor, timeoutMs: number): Promise<void> {
  await db.query("select 1", [], { timeoutMs });
}

/**
 * Deletes idempotency keys older than the given hours in batches (short
 * transactions, served by the created_at index); returns how many went.
 */
export async function deleteExpiredKeys(db: Executor, olderThanHours: number, batch: number): Promise<number> {
  let total = 0;
  for (;;) {
    const [row] = await db.query<{ n: number }>(
      `with gone as (
         delete from idempotency_keys where (user_id, key) in (
           select user_id, key from idempotency_keys
            where created_at < now() - make_interval(hours => $1) limit $2)
         returning 1)
       select count(*)::int as n from gone`,
      [olderThanHours, batch],
    );
    total += row!.n;
    if (row!.n < batch) return total;
  }
}
