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
import { batches, pairs, seedSets } from "./helpers/atOnce.js";
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
  await seedSets(db, [0, MIRROR]);
});
afterAll(async () => {
  await db?.close();
  await drop?.();
});

const batch = batches(7);

type Row = { ord: number; outcome: string; result: Record<string, unknown> | null; changes: unknown[] | null };
const apply = (ops: object[]) =>
  db.query<Row>("select ord, outcome, result, changes from wallet_apply($1::jsonb, false) order by ord", [
    JSON.stringify(ops),
  ]);

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
