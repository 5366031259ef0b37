import type { CoreContext } from "./context.js";

export type Violation = { check: string; detail: string };
export type VerifyReport = {
  ok: boolean;
  wallets: number;
  entries: number;
  total_balance: string;
  violations: Violation[];
};

/**
 * Every ledger invariant, each one query. Sums are taken as numeric and compared
 * as text: a total of many balances can pass 2^53.
 */
const CHECKS: Array<{ check: string; sql: string; describe(row: Record<string, unknown>): string }> = [
  {
    check: "balance_equals_entries",
    sql: `select w.user_id, w.balance::text as balance, coalesce(s.total, 0)::text as total
            from wallets w
            left join (select user_id, sum(direction * amount) as total from entries group by user_id) s
              on s.user_id = w.user_id
           where w.balance <> coalesce(s.total, 0)
           limit 100`,
    describe: (r) => `wallet ${r.user_id}: balance ${r.balance} but its entries sum to ${r.total}`,
  },
  {
    check: "balance_in_range",
    sql: `select user_id, balance::text as balance from wallets
           where balance < 0 or balance > 9007199254740991 limit 100`,
    describe: (r) => `wallet ${r.user_id}: balance ${r.balance} out of range`,
  },
  {
    check: "balance_after_chain",
    sql: `select user_id, id::text as id, balance_after::text as balance_after, running::text as running from (
            select user_id, id, balance_after,
                   sum(direction * amount) over (partition by user_id order by id) as running
              from entries) e
           where balance_after <> running limit 100`,
    describe: (r) => `entry ${r.id} of wallet ${r.user_id}: balance_after ${r.balance_after}, running sum ${r.running}`,
  },
  {
    check: "entries_of_unknown_wallet",
    sql: `select e.id::text as id, e.user_id from entries e
           where not exists (select 1 from wallets w where w.user_id = e.user_id) limit 100`,
    describe: (r) => `entry ${r.id} belongs to missing wallet ${r.user_id}`,
  },
  {
    check: "transfer_entries",
    // a completed transfer has exactly one out entry and one in entry of its amount
    // between its two wallets; any other transfer has none
    sql: `select t.id::text as id, t.status, count(e.id) as n,
                 coalesce(sum(case when e.direction = -1 and e.user_id = t.from_user_id and e.counterparty_user_id = t.to_user_id and e.amount = t.amount then 1 else 0 end), 0) as outs,
                 coalesce(sum(case when e.direction = 1 and e.user_id = t.to_user_id and e.counterparty_user_id = t.from_user_id and e.amount = t.amount then 1 else 0 end), 0) as ins
            from transfers t left join entries e on e.transfer_id = t.id
           group by t.id, t.status
          having (t.status = 'completed' and not (count(e.id) = 2
                    and sum(case when e.direction = -1 and e.user_id = t.from_user_id and e.counterparty_user_id = t.to_user_id and e.amount = t.amount then 1 else 0 end) = 1
                    and sum(case when e.direction = 1 and e.user_id = t.to_user_id and e.counterparty_user_id = t.from_user_id and e.amount = t.amount then 1 else 0 end) = 1))
              or (t.status <> 'completed' and count(e.id) <> 0)
           limit 100`,
    describe: (r) => `transfer ${r.id} (${r.status}) has ${r.n} entries (${r.outs} out, ${r.ins} in)`,
  },
  {
    check: "transfer_entries_without_transfer",
    sql: `select e.id::text as id, e.transfer_id::text as transfer_id from entries e
           where e.type = 3 and not exists (select 1 from transfers t where t.id = e.transfer_id) limit 100`,
    describe: (r) => `entry ${r.id} names transfer ${r.transfer_id}, which does not exist`,
  },
  {
    check: "money_conserved",
    // transfers only move money: all balances together equal deposits minus withdrawals
    sql: `select b.total::text as balances, l.total::text as ledger from
            (select coalesce(sum(balance), 0) as total from wallets) b,
            (select coalesce(sum(case type when 1 then amount when 2 then -amount else 0 end), 0) as total from entries) l
           where b.total <> l.total`,
    describe: (r) => `balances sum to ${r.balances}, deposits minus withdrawals to ${r.ledger}`,
  },
];

export async function verifyLedger(ctx: CoreContext): Promise<VerifyReport> {
  const violations: Violation[] = [];
  // one snapshot for all checks, so that concurrent writes cannot show a false violation
  await ctx.db.knex.transaction(
    async (trx) => {
      for (const c of CHECKS) {
        const { rows } = await trx.raw<{ rows: Array<Record<string, unknown>> }>(c.sql);
        for (const row of rows) violations.push({ check: c.check, detail: c.describe(row) });
      }
    },
    { isolationLevel: "repeatable read", readOnly: true },
  );
  const { rows } = await ctx.db.knex.raw<{ rows: Array<{ wallets: number; entries: number; total: string }> }>(
    `select (select count(*)::int from wallets) as wallets, (select count(*)::int from entries) as entries,
            (select coalesce(sum(balance), 0)::text from wallets) as total`,
  );
  const s = rows[0]!;
  return { ok: violations.length === 0, wallets: s.wallets, entries: s.entries, total_balance: s.total, violations };
}
