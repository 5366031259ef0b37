/**
 * Migration 017 applies a batch of plain transfers and deposits in one statement when
 * every one of them passes, judged in the batch's order, and otherwise sends the batch through the
 * operations one by one. The two paths must be indistinguishable. One database, two
 * mirrored sets of users with the same wallets and limits: the same seeded batches go
 * to users 1-40 as they are (the one-statement path when it applies) and to users
 * 101-140 with an Idempotency-Key on every operation (keys always take the one-by-one
 * path); every answer, journal row, wallet, sequence and change-log row must match.
 * The batches repeat payers, chain receivers into payers (u to u+1 to u+2, as a load
 * test does), move one user's two currencies, and cross funds, a day's count or amount, a
 * month's amount or a receiver's max balance only after their earlier transfers. Both
 * engines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/core/db/index.js";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";

const MIRROR = 100;
const ID_MIRROR = 50_000_000;
let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  const created = await processDatabase();
  drop = created.drop;
  expect((await runCli(["migrate", "--json"], created.env)).code).toBe(0);
  db = await openDatabase({ databaseUrl: created.env.DATABASE_URL, dataDir: created.env.WALLET_DATA_DIR ?? "" });
  // wallets of 10,000 for users 1-40 and their mirrors (1-10 in EUR too); tiers on 21-24 and 29-40
  await db.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
    'id', (900000 + g)::text, 'u', g, 'a', 10000)) from generate_series(1, 40) g), false)`);
  await db.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'EUR',
    'id', (700000 + u)::text, 'u', u, 'a', 10000)) from generate_series(1, 10) g,
    lateral (values (g), (g + ${MIRROR})) m(u)), false)`);
  await db.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
    'id', (800000 + g)::text, 'u', g, 'a', 10000)) from generate_series(${MIRROR + 1}, ${MIRROR + 40}) g), false)`);
  await db.query(`select wallet_define_tier(1, 'small', '{"USD": {"max_debit": 2000, "daily_debit_amount": 6000,
    "daily_debit_count": 8, "monthly_debit_amount": 20000, "max_balance": 16000}}', 'ops')`);
  await db.query(
    `select wallet_define_tier(2, 'monthly', '{"USD": {"monthly_debit_amount": 5000, "max_balance": 12000}}', 'ops')`,
  );
  await db.query(`select wallet_assign_tier(100 + u, u, 'small', 'USD', 'ops', 'r')
    from generate_series(36, 40) g, lateral (values (g), (g + ${MIRROR})) m(u)`);
  await db.query(
    `select wallet_define_tier(4, 'day', '{"USD": {"max_debit": 2000, "daily_debit_amount": 6000}}', 'ops')`,
  );
  await db.query(`select wallet_assign_tier(600 + u, u, 'day', 'USD', 'ops', 'r')
    from generate_series(29, 32) g, lateral (values (g), (g + ${MIRROR})) m(u)`);
  await db.query(`select wallet_assign_tier(300 + u, u, 'monthly', 'USD', 'ops', 'r')
    from generate_series(33, 35) g, lateral (values (g), (g + ${MIRROR})) m(u)`);
  await db.query(`select wallet_define_tier(3, 'count', '{"USD": {"daily_debit_count": 8}}', 'ops')`);
  await db.query(`select wallet_assign_tier(500 + u, u, 'count', 'USD', 'ops', 'r')
    from generate_series(21, 24) g, lateral (values (g), (g + ${MIRROR})) m(u)`);
});
afterAll(async () => {
  await db?.close();
  await drop?.();
});

let seed = 7;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const int = (a: number, b: number) => a + Math.floor(rnd() * (b - a + 1));
const pick = <T>(xs: T[]) => xs[Math.floor(rnd() * xs.length)]!;
let nextId = 1_000_000;

type Op = { k: 1 | 3; id: string; u: number; c?: number; cur: "USD" | "EUR"; a: number };
/** A batch of 1-8 plain transfers; a third of them at an edge. */
function batch(): Op[] {
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
}

type Row = { ord: number; outcome: string; result: Record<string, unknown> | null; changes: unknown[] | null };
const apply = (ops: object[]) =>
  db.query<Row>("select ord, outcome, result, changes from wallet_apply($1::jsonb, false) order by ord", [
    JSON.stringify(ops),
  ]);

/** (user, sequence) pairs in the first set's names (the mirror's users moved back), as text on both engines. */
const pairs = (changes: unknown[] | null, users: number) =>
  changes && changes.map((x, i) => (i % 2 === 0 ? String(Number(x) - users) : String(x)));

/** An answer in the first set's names: user ids and operation ids moved back by the offsets. */
function named(rows: Row[], users: number, ids: number): Row[] {
  return rows.map((r) => ({
    ...r,
    result: r.result && {
      ...r.result,
      ...(r.result.transfer_id ? { transfer_id: String(Number(r.result.transfer_id) - ids) } : {}),
      ...(r.result.transaction_id ? { transaction_id: String(Number(r.result.transaction_id) - ids) } : {}),
    },
    changes: pairs(r.changes, users),
  }));
}

describe("a batch of plain transfers and deposits in one statement (migration 017)", () => {
  it("answers, journals and numbers exactly as the operations one by one", async () => {
    let wholeBatches = 0;
    const outcomes = new Map<string, number>();
    const [before] = await db.query<{ last: string }>("select coalesce(max(id), 0)::text as last from wallet_changes");
    for (let call = 0; call < 160; call++) {
      const ops = batch();
      const mirrored = ops.map((o) => ({
        ...o,
        id: String(Number(o.id) + ID_MIRROR),
        u: o.u + MIRROR,
        ...(o.c === undefined ? {} : { c: o.c + MIRROR }),
        key: `k-${o.id}`,
        h: "h",
      }));
      const asIs = named(await apply(ops), 0, 0);
      const oneByOne = named(await apply(mirrored), MIRROR, ID_MIRROR);
      expect(asIs, `call ${call}: ${JSON.stringify(ops)}`).toEqual(oneByOne);
      for (const r of asIs) {
        const what = r.outcome === "limit_exceeded" ? `limit_exceeded:${String(r.result?.limit)}` : r.outcome;
        outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
      }
      if (ops.length > 1 && asIs.every((r) => r.outcome === "ok")) wholeBatches++;
    }
    // the batches took both paths: many whole (in one statement), and refusals of every
    // kind a transfer's conditions make, most of them after earlier transfers of their batch
    expect(wholeBatches).toBeGreaterThan(30);
    for (const refusal of [
      "insufficient_funds",
      "limit_exceeded:max_debit",
      "limit_exceeded:daily_debit_amount",
      "limit_exceeded:daily_debit_count",
      "limit_exceeded:monthly_debit_amount",
      "limit_exceeded:max_balance",
    ]) {
      expect(outcomes.get(refusal) ?? 0, `${refusal} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }

    const side = async (first: number) =>
      JSON.stringify(
        await db.query(
          `select j.user_id - $1 as user_id, j.seq, j.currency, j.event, j.kind, j.direction, j.amount, j.balance_after,
                  j.available_after, j.counterparty_user_id - $1 as counterparty
             from journal j where j.user_id between $1 + 1 and $1 + 40 and j.kind in (1, 3) and j.id >= 1000000
            order by 1, 2`,
          [first],
        ),
      );
    expect(await side(0)).toBe(await side(MIRROR));
    const wallets = async (first: number) =>
      JSON.stringify(
        await db.query(
          `select w.user_id - $1 as user_id, w.currency, w.balance, w.version, w.day_amount, w.day_count,
                  w.month_amount, u.seq
             from wallets w join users u using (user_id) where w.user_id between $1 + 1 and $1 + 40 order by 1, 2`,
          [first],
        ),
      );
    expect(await wallets(0)).toBe(await wallets(MIRROR));
    // the change log: a row for each call that changed a wallet, the same pairs in the same order
    const logged = await db.query<{ changes: unknown[] }>(
      "select changes from wallet_changes where id > $1::bigint order by id",
      [before!.last],
    );
    const first = logged.filter((r) => Number(r.changes[0]) <= 40).map((r) => pairs(r.changes, 0));
    const mirror = logged.filter((r) => Number(r.changes[0]) > MIRROR).map((r) => pairs(r.changes, MIRROR));
    expect(first.length).toBeGreaterThan(100);
    expect(first).toEqual(mirror);
  });
});
