/**
 * A database of the round-two schema (migrations 001-007) holding money, holds, an
 * async transfer and events takes migration 008 (currencies) with nothing lost: every
 * wallet, entry, hold and transfer lands in DEFAULT_CURRENCY (here EUR, to show it is
 * the configured one), the event sequences go on where they were, and the ledger verifies.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../src/core/db/index.js";
import { MIGRATIONS_DIR, migrateLatest } from "../src/core/migrate.js";
import { verifyLedger } from "../src/core/verify.js";
import { releaseDatabase, type Release } from "./helpers/release.js";

let release: Release;
let db: Database;
let oldDir: string;
beforeAll(async () => {
  release = await releaseDatabase(7);
  ({ db, dir: oldDir } = release);
});
afterAll(() => release?.close());

const apply = (ops: object[]) =>
  db.query<{ outcome: string }>("select outcome from wallet_apply($1::jsonb, false)", [JSON.stringify(ops)]);

it("moves a round-two database to wallets per currency with nothing lost", async () => {
  expect(await migrateLatest(db, oldDir)).toHaveLength(7);
  const before = await apply([
    { k: 1, id: "9100001", u: 1, a: 500 },
    { k: 1, id: "9100002", u: 2, a: 300 },
    { k: 3, id: "9100003", u: 1, c: 2, a: 120 },
    { k: 5, id: "9100004", u: 1, c: 2, a: 50, e: 3600 },
    { k: 4, id: "9100005", u: 2, c: 1, a: 30 },
    { k: 10, id: "9100006", c: 2, actor: "ops", reason: "check" },
  ]);
  expect(before.map((r) => r.outcome)).toEqual(["ok", "ok", "ok", "ok", "accepted", "ok"]);
  const [versions] = await db.query<{ v1: number; v2: number }>(
    "select (select version from wallets where user_id = 1) as v1, (select version from wallets where user_id = 2) as v2",
  );

  // 008 and every later migration
  expect((await migrateLatest(db, MIGRATIONS_DIR, { defaultCurrency: "EUR" }))[0]).toEqual("008_currencies.sql");
  const currencies = await db.query<{ t: string; c: string }>(
    `select 'wallets' as t, currency as c from wallets union select 'journal', currency from journal
     union select 'holds', currency from holds union select 'transfers', currency from transfers order by 1`,
  );
  expect(currencies).toEqual([
    { t: "holds", c: "EUR" },
    { t: "journal", c: "EUR" },
    { t: "transfers", c: "EUR" },
    { t: "wallets", c: "EUR" },
  ]);
  const users = await db.query<{ user_id: number; seq: number; frozen: boolean }>(
    "select user_id, seq, frozen from users order by user_id",
  );
  expect(users).toEqual([
    { user_id: 1, seq: versions!.v1, frozen: false },
    { user_id: 2, seq: versions!.v2, frozen: true },
  ]);
  const balances = await db.query<{ user_id: number; balance: number; held: number }>(
    "select user_id, balance, held from wallets order by user_id",
  );
  expect(balances).toEqual([
    { user_id: 1, balance: 380, held: 50 },
    { user_id: 2, balance: 420, held: 0 },
  ]);

  // the sequence goes on where it was; a new currency opens beside the old one
  const after = await apply([
    { k: 1, id: "9100007", u: 1, a: 7, cur: "EUR" },
    { k: 1, id: "9100008", u: 1, a: 9, cur: "JPY" },
  ]);
  expect(after.map((r) => r.outcome)).toEqual(["ok", "ok"]);
  const [seq] = await db.query<{ seq: number }>("select seq from users where user_id = 1");
  expect(seq!.seq).toBe(versions!.v1 + 2);
  const report = await verifyLedger({ db });
  expect(report.violations).toEqual([]);
});
