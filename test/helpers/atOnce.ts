/**
 * The tests of the one-statement batches (migrations 017 and 019) share this: sets of
 * users 1-40 mirrored at offsets, each with the same wallets and limits, and seeded
 * batches of transfers and deposits that repeat payers, chain users, move one user's
 * two currencies, and cross a funds, count, amount or max-balance edge only after their
 * batch's earlier transfers.
 */
import type { Database } from "../../src/core/db/index.js";

export type Op = { k: 1 | 3; id: string; u: number; c?: number; cur: "USD" | "EUR"; a: number };

/**
 * Users 1-40 at each offset: 10,000 USD each (1-10 also 10,000 EUR); tiers: small
 * (36-40), monthly (33-35), count (21-24), day (29-32). Every id made here is below
 * 1,000,000, the batches' first.
 */
export async function seedSets(db: Database, offsets: number[]): Promise<void> {
  const sets = `unnest(array[${offsets.join(",")}]::bigint[])`;
  const deposits = (cur: string, base: number, last: number) =>
    db.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', '${cur}',
      'id', (${base} + g + o)::text, 'u', g + o, 'a', 10000)) from generate_series(1, ${last}) g, ${sets} o), false)`);
  await deposits("USD", 900000, 40);
  await deposits("EUR", 700000, 10);
  await db.query(`select wallet_define_tier(1, 'small', '{"USD": {"max_debit": 2000, "daily_debit_amount": 6000,
    "daily_debit_count": 8, "monthly_debit_amount": 20000, "max_balance": 16000}}', 'ops')`);
  await db.query(
    `select wallet_define_tier(2, 'monthly', '{"USD": {"monthly_debit_amount": 5000, "max_balance": 12000}}', 'ops')`,
  );
  await db.query(`select wallet_define_tier(3, 'count', '{"USD": {"daily_debit_count": 8}}', 'ops')`);
  await db.query(
    `select wallet_define_tier(4, 'day', '{"USD": {"max_debit": 2000, "daily_debit_amount": 6000}}', 'ops')`,
  );
  const assign = (tier: string, base: number, from: number, to: number) =>
    db.query(`select wallet_assign_tier(${base} + g + o, g + o, '${tier}', 'USD', 'ops', 'r')
      from generate_series(${from}, ${to}) g, ${sets} o`);
  await assign("small", 100000, 36, 40);
  await assign("day", 600000, 29, 32);
  await assign("monthly", 300000, 33, 35);
  await assign("count", 500000, 21, 24);
}

/** A seeded source of batches; operation ids from 1,000,000 up. */
export function batches(seed0: number): () => Op[] {
  let seed = seed0;
  let nextId = 1_000_000;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
  const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;

  /** A batch of 1-8 plain transfers; a third of them at an edge. */
  return function batch(): Op[] {
    const ops: Op[] = [];
    const add = (u: number, c: number, a: number, cur: "USD" | "EUR" = "USD") =>
      ops.push({ k: 3, id: String(nextId++), u, c, cur, a });
    const deposit = (u: number, a: number, cur: "USD" | "EUR") => ops.push({ k: 1, id: String(nextId++), u, cur, a });
    if (rnd() < 0.35) {
      // 1: a day's amount (29-32), 2: a month's amount (33-35), 3: a receiver's max balance
      // (33-35), 4: funds (25-28), 5: a day's count (21-24)
      const edge = int(1, 5);
      const one = edge === 1 ? int(29, 32) : edge === 5 ? int(21, 24) : edge === 4 ? int(25, 28) : int(33, 35);
      for (let i = edge === 5 ? 8 : int(4, 8); i > 0; i--) {
        // the others: payers with funds to spare for a receiver's edge (11-20), else receivers
        const other = edge === 3 ? int(11, 20) : int(1, 20);
        const a =
          edge === 4
            ? pick([2500, 4000, 6000])
            : edge === 5
              ? pick([5, 50])
              : edge === 3
                ? pick([900, 1900])
                : edge === 1
                  ? pick([400, 700, 1000, 1900, 2500])
                  : pick([400, 700, 1000, 1900]);
        if (edge === 3) add(other, one, a);
        else add(one, other, a);
      }
      return ops;
    }
    // everyday traffic among users 1-20 and, now and then, those with every limit (36-40)
    const anyone = () => (rnd() < 0.85 ? int(1, 20) : int(36, 40));
    let prev = { u: anyone(), c: anyone() };
    for (let i = int(1, 8); i > 0; i--) {
      const r = rnd();
      const u = r < 0.3 ? prev.u : r < 0.6 ? prev.c : anyone();
      const c = rnd() < 0.3 && u < 20 ? u + 1 : anyone();
      if (u === c) continue;
      prev = { u, c };
      // between users 1-10 now and then in EUR: one user's sequence across its two wallets
      const cur = u <= 10 && c <= 10 && rnd() < 0.5 ? "EUR" : "USD";
      // and deposits among the transfers: to a wallet not opened (EUR above user 10), past a max balance
      if (rnd() < 0.2) deposit(c, pick([1, 300, 5000]), rnd() < 0.1 ? "EUR" : cur);
      else add(u, c, rnd() < 0.8 ? int(1, 300) : pick([1500, 2500, 6000]), cur);
    }
    return ops.length ? ops : [{ k: 3, id: String(nextId++), u: 1, c: 2, cur: "USD", a: 1 }];
  };
}

/** (user, sequence) pairs in the first set's names (a mirror's users moved back), as text on both engines. */
export const pairs = (changes: unknown[] | null, users: number) =>
  changes && changes.map((x, i) => (i % 2 === 0 ? String(Number(x) - users) : String(x)));
