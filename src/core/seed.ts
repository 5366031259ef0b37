import type { CoreContext } from "./context.js";

export type SeedResult = { created: number; existing: number; first: number; last: number };

/**
 * Opens wallets first..first+users-1 with the given balance, each credited through a
 * ledger entry (a deposit), in batches of one statement each. Wallets that already
 * exist are left as they are, so running it twice changes nothing.
 */
export async function seedWallets(
  ctx: CoreContext,
  input: { users: number; balance: number; first: number; batchSize?: number },
  onProgress?: (done: number, total: number) => void,
): Promise<SeedResult> {
  const batchSize = input.batchSize ?? 5000;
  let created = 0;
  const last = input.first + input.users - 1;
  for (let from = input.first; from <= last; from += batchSize) {
    const to = Math.min(last, from + batchSize - 1);
    const { rows } = await ctx.db.knex.raw<{ rows: Array<{ n: number }> }>(
      `with opened as (
         insert into wallets (user_id, balance, version)
         select g, ?::bigint, case when ?::bigint > 0 then 1 else 0 end from generate_series(?::bigint, ?::bigint) g
         on conflict do nothing
         returning user_id
       ), credited as (
         insert into entries (id, user_id, type, direction, amount, balance_after)
         select wallet_next_id(), user_id, 1, 1, ?::bigint, ?::bigint from opened where ?::bigint > 0
       )
       select count(*)::int as n from opened`,
      [input.balance, input.balance, from, to, input.balance, input.balance, input.balance],
    );
    created += rows[0]!.n;
    onProgress?.(to - input.first + 1, input.users);
  }
  return { created, existing: input.users - created, first: input.first, last };
}
