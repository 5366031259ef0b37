/**
 * Migration 019 hands a worker's claimed batch of accepted transfers to the one-statement
 * path of 017 when every one of them is plain, and otherwise applies them one by one as
 * before. The two paths must be indistinguishable. One database, two mirrored sets of
 * users with the same wallets and limits: the same seeded transfers are accepted for
 * users 201-240 as they are and for users 301-340 with a reference (a transfer to tag
 * always takes the steps), and each set's batch is applied by wallet_apply_transfers, as
 * a worker does; every answer, journal row (but the reference), wallet, sequence,
 * transfer status and change-log row must match, and the plain set must have taken the
 * one statement for most batches. Both engines.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/core/db/index.js";
import { batches, pairs, seedSets, type Op } from "./helpers/atOnce.js";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";

const PLAIN = 200;
const TAGGED = 300;
const ID_TAGGED = 50_000_000;
let db: Database;
let drop: () => Promise<void>;

beforeAll(async () => {
  const created = await processDatabase();
  drop = created.drop;
  expect((await runCli(["migrate", "--json"], created.env)).code).toBe(0);
  db = await openDatabase({ databaseUrl: created.env.DATABASE_URL, dataDir: created.env.WALLET_DATA_DIR ?? "" });
  await seedSets(db, [PLAIN, TAGGED]);
});
afterAll(async () => {
  await db?.close();
  await drop?.();
});

type Applied = { id: string; outcome: string; changes: unknown[] | null };

/** The transfers accepted for one set; their ids, in order. */
async function accept(ops: Op[], users: number, ids: number, tagged: boolean): Promise<string[]> {
  const accepted = ops.map((o) => ({
    k: 4,
    id: String(Number(o.id) + ids),
    u: o.u + users,
    c: o.c! + users,
    cur: o.cur,
    a: o.a,
    ...(tagged ? { ref: `r-${o.id}` } : {}),
  }));
  const rows = await db.query<{ outcome: string; result: { transfer_id: string } }>(
    "select outcome, result from wallet_apply($1::jsonb, false) order by ord",
    [JSON.stringify(accepted)],
  );
  expect(rows.map((r) => r.outcome)).toEqual(ops.map(() => "accepted"));
  return rows.map((r) => r.result.transfer_id);
}

/** One worker's batch, and which functions it called (counted in its own transaction). */
async function work(ids: string[], users: number, idOffset: number) {
  return db.transaction(async (tx) => {
    await tx.query("set local track_functions = 'pl'");
    // pending counts of this backend (flushed at most once a second): a difference within the transaction
    const count = async () =>
      (
        await tx.query<{ once: number; steps: number }>(
          `select coalesce(sum(calls) filter (where funcname = 'wallet_transfers_at_once'), 0)::int as once,
                  coalesce(sum(calls) filter (where funcname = 'wallet_op_transfer'), 0)::int as steps
             from pg_stat_xact_user_functions`,
        )
      )[0]!;
    const before = await count();
    const rows = await tx.query<Applied>(
      "select id::text as id, outcome, changes from wallet_apply_transfers($1::bigint[]) order by id",
      [`{${ids.join(",")}}`],
    );
    const after = await count();
    const calls = { once: after.once - before.once, steps: after.steps - before.steps };
    const named = rows.map((r) => ({
      id: String(Number(r.id) - idOffset),
      outcome: r.outcome,
      changes: pairs(r.changes, users),
    }));
    return { named, ...calls };
  });
}

describe("a worker's batch of plain accepted transfers in one statement (migration 019)", () => {
  it("completes, refuses, journals and numbers exactly as the transfers one by one", async () => {
    const batch = batches(11);
    let whole = 0;
    let fellBack = 0;
    const outcomes = new Map<string, number>();
    const [before] = await db.query<{ last: string }>("select coalesce(max(id), 0)::text as last from wallet_changes");
    for (let call = 0; call < 160; call++) {
      const ops = batch().filter((o) => o.k === 3);
      if (ops.length === 0) continue;
      const plain = await work(await accept(ops, PLAIN, 0, false), PLAIN, 0);
      const tagged = await work(await accept(ops, TAGGED, ID_TAGGED, true), TAGGED, ID_TAGGED);
      expect(plain.named, `call ${call}: ${JSON.stringify(ops)}`).toEqual(tagged.named);
      // the tagged set always takes the steps; the plain set the one statement first
      expect([tagged.once, tagged.steps]).toEqual([0, ops.length]);
      expect(plain.once).toBe(1);
      if (plain.steps === 0) whole++;
      else fellBack++;
      for (const r of plain.named) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    }
    // both paths taken: many batches whole, and refusals of the kinds a transfer's conditions make
    expect(whole).toBeGreaterThan(30);
    expect(fellBack).toBeGreaterThan(10);
    for (const refusal of ["insufficient_funds", "limit_exceeded"]) {
      expect(outcomes.get(refusal) ?? 0, `${refusal} in ${JSON.stringify([...outcomes])}`).toBeGreaterThan(0);
    }

    const journal = async (users: number) =>
      JSON.stringify(
        await db.query(
          `select j.user_id - $1 as user_id, j.seq, to_jsonb(j) - 'user_id' - 'id' - 'transfer_id' - 'reference'
                  - 'created_at' - 'counterparty_user_id' as row, j.counterparty_user_id - $1 as counterparty
             from journal j where j.user_id between $1 + 1 and $1 + 40 and j.id >= 1000000 order by 1, 2`,
          [users],
        ),
      );
    expect(await journal(PLAIN)).toBe(await journal(TAGGED));
    const wallets = async (users: number) =>
      JSON.stringify(
        await db.query(
          `select w.user_id - $1 as user_id, w.currency, w.balance, w.version, w.day_amount, w.day_count,
                  w.month_amount, u.seq
             from wallets w join users u using (user_id) where w.user_id between $1 + 1 and $1 + 40 order by 1, 2`,
          [users],
        ),
      );
    expect(await wallets(PLAIN)).toBe(await wallets(TAGGED));
    const transfers = async (users: number, ids: number) =>
      JSON.stringify(
        await db.query(
          `select t.id - $2 as id, t.status, t.failure_reason, t.attempts, t.completed_at is not null as completed
             from transfers t where t.from_user_id between $1 + 1 and $1 + 40 order by 1`,
          [users, ids],
        ),
      );
    expect(await transfers(PLAIN, 0)).toBe(await transfers(TAGGED, ID_TAGGED));
    // the change log: a row for each batch, the same pairs in the same order
    const logged = await db.query<{ changes: unknown[] }>(
      "select changes from wallet_changes where id > $1::bigint and cardinality(changes) > 0 order by id",
      [before!.last],
    );
    const inSet = (users: number) =>
      logged
        .filter((r) => Number(r.changes[0]) > users && Number(r.changes[0]) <= users + 40)
        .map((r) => pairs(r.changes, users));
    expect(inSet(PLAIN).length).toBeGreaterThan(100);
    expect(inSet(PLAIN)).toEqual(inSet(TAGGED));
  });
});
