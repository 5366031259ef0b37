/**
 * Set-based seeding of wallets with a history (wallet seed --entries): one statement
 * writes a group of wallets and all their journal rows from generate_series, with
 * every ledger invariant holding by construction (no window functions, no per-row
 * calls), so ten million entries take minutes.
 *
 * The history of a group of `count` wallets (index i = 0..count-1, user first + i), of
 * m(i) = base + (i < extra ? 1 : 0) entries each:
 * - seq 1: the opening deposit of `opening` cents;
 * - seq 2j (j >= 1): money in, a(pair, j) = 1..100 cents; seq 2j+1: the same amount out.
 *   Each pair of entries nets to zero, so the balance never goes below `opening`:
 *   balance_after is `opening`, plus a(pair, j) after an even seq;
 * - wallets 2q and 2q+1 are a pair: at every odd j that both histories reach, wallet
 *   2q's out (seq 2j+1) is a transfer to wallet 2q+1, whose in (seq 2j) it is; one
 *   operation, one id, two rows. Other ins are deposits, other outs withdrawals.
 * - each operation has an ordinal g: its owner's seq x stride + i + offset (a
 *   transfer's owner is the payer). It happened at endMs - (gMax - g) ms, and its id is
 *   the id wallet_next_id() makes at that instant (milliseconds since 2025-01-01 << 22,
 *   lower half of the low bits: g mod 2^21), so ids are unique (one operation per
 *   millisecond), time-ordered, and older than any id made after the seed; created_at
 *   grows with seq in every wallet.
 */
import type { Executor } from "../db/index.js";

export type SeedGroup = {
  /** the user id of index 0 */
  first: number;
  /** the indexes written by this statement: from..to-1 (from even: pairs stay whole) */
  from: number;
  to: number;
  /** wallets in the whole group (the last one of an odd count has no pair) */
  count: number;
  base: number;
  extra: number;
  /** the ordinal of (seq s, index i) is s * stride + i + offset */
  stride: number;
  offset: number;
  endMs: number;
  gMax: number;
  opening: number;
  /** the wallets' currency */
  currency: string;
};

const SQL = `
with w as (
  select i, $1::bigint + i as user_id, $5::int + (i < $6::int)::int as m,
         $5::int + ((i # 1) < $6::int)::int as pm, (i # 1) < $4::int as paired
    from generate_series($2::int, $3::int - 1) i
), r as (
  select w.user_id, w.i, w.m, s, s / 2 as j, w.i / 2 as p,
         w.paired and s >= 2 and (s / 2) % 2 = 1 and case when w.i % 2 = 0
           then s % 2 = 1 and w.pm >= s - 1
           else s % 2 = 0 and w.pm >= s + 1 end as xfer
    from w, generate_series(1, w.m) s
), g as (
  select r.*,
         case when s = 1 then $11::bigint else 1 + (p::bigint * 7919 + j::bigint * 104729) % 100 end as amount,
         case when xfer and i % 2 = 1 then (s + 1) * $7::bigint + i - 1 + $8::bigint
              else s * $7::bigint + i + $8::bigint end as ord
    from r
), e as (
  select g.*, $9::bigint - ($10::bigint - ord) as ms,
         (($9::bigint - ($10::bigint - ord) - 1735689600000) << 22) | (ord % 2097152) as id
    from g
), opened as (
  insert into users (user_id, seq, created_at)
  select user_id, max(m), to_timestamp(min(ms) / 1000.0) from e group by user_id
  returning user_id, seq as version
), wallet as (
  insert into wallets (user_id, currency, balance, version, created_at, updated_at)
  select user_id, $12, max(case when s = m then $11::bigint + case when s % 2 = 0 then amount else 0 end end),
         max(m), to_timestamp(min(ms) / 1000.0), to_timestamp(max(ms) / 1000.0)
    from e group by user_id
), written as (
  insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after,
                       counterparty_user_id, transfer_id, created_at, currency)
  select user_id, s, id,
         case when xfer then case when s % 2 = 0 then 3 else 4 end when s % 2 = 0 or s = 1 then 1 else 2 end,
         case when xfer then 3 when s % 2 = 0 or s = 1 then 1 else 2 end,
         case when s % 2 = 0 or s = 1 then 1 else -1 end,
         amount,
         $11::bigint + case when s % 2 = 0 then amount else 0 end,
         $11::bigint + case when s % 2 = 0 then amount else 0 end,
         case when xfer then user_id + case when i % 2 = 0 then 1 else -1 end end,
         case when xfer then id end,
         to_timestamp(ms / 1000.0), $12
    from e
   order by user_id, s
  returning 1
), logged as (
  insert into wallet_changes (changes)
  select array(select x from opened o, lateral (values (o.user_id), (o.version)) v(x))
  returning 1
)
select (select count(*) from opened)::int as wallets, (select count(*) from written)::int as entries,
       (select count(*) from logged)::int as logged`;

/** Writes the wallets g.from..g.to-1 of a group and their histories in one statement. */
export async function seedGroup(db: Executor, g: SeedGroup): Promise<{ wallets: number; entries: number }> {
  const params = [
    g.first,
    g.from,
    g.to,
    g.count,
    g.base,
    g.extra,
    g.stride,
    g.offset,
    g.endMs,
    g.gMax,
    g.opening,
    g.currency,
  ];
  // a big statement: seconds to a minute on a loaded machine, not a request's deadline
  const [row] = await db.query<{ wallets: number; entries: number }>(SQL, params, { timeoutMs: 1_800_000 });
  return { wallets: row!.wallets, entries: row!.entries };
}

/** How many users exist among users from..to. */
export async function countWallets(db: Executor, from: number, to: number): Promise<number> {
  const [row] = await db.query<{ n: number }>("select count(*)::int as n from users where user_id between $1 and $2", [
    from,
    to,
  ]);
  return row!.n;
}

/** The database's clock, in ms since the epoch. */
export async function databaseNowMs(db: Executor): Promise<number> {
  const [row] = await db.query<{ ms: number }>("select (extract(epoch from now()) * 1000)::float8 as ms");
  return Math.floor(row!.ms);
}
