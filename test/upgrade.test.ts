/**
 * A database migrated by an earlier release (through 005: NOTIFY and event_outbox)
 * and holding money and unpublished events takes migration 006 (the change log) and
 * goes on: the ledger verifies, new writes reach the change log, and the relay's first
 * pass finds every wallet whose events it has not published.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Database } from "../src/core/db/index.js";
import { migrateLatest } from "../src/core/migrate.js";
import { unpublishedWallets } from "../src/core/store/events.js";
import { verifyLedger } from "../src/core/verify.js";
import { releaseDatabase, type Release } from "./helpers/release.js";

let release: Release;
let db: Database;
let oldDir: string;
beforeAll(async () => {
  release = await releaseDatabase(5);
  ({ db, dir: oldDir } = release);
});
afterAll(() => release?.close());

/** The release-005 signature: wallet_apply(ops, retry, token). */
const applyOld = (ops: object[]) =>
  db.query("select count(*) from wallet_apply($1::jsonb, false, null)", [JSON.stringify(ops)]);
const applyNew = (ops: object[]) =>
  db.query<{ outcome: string; changes: string[] }>("select outcome, changes from wallet_apply($1::jsonb, false)", [
    JSON.stringify(ops),
  ]);

it("moves a release-005 database to the change log with nothing lost", async () => {
  expect(await migrateLatest(db, oldDir)).toHaveLength(5);
  await applyOld([
    { k: 1, id: "9000001", u: 1, a: 500 },
    { k: 1, id: "9000002", u: 2, a: 300 },
    { k: 3, id: "9000003", u: 1, c: 2, a: 120 },
  ]);
  const [outbox] = await db.query<{ n: number }>("select count(*)::int as n from event_outbox");
  expect(outbox!.n).toBeGreaterThan(0); // events waiting for a relay that never ran

  // 006 to 008, then every later migration
  expect((await migrateLatest(db)).slice(0, 3)).toEqual([
    "006_change_log.sql",
    "007_plan_cached_helpers.sql",
    "008_currencies.sql",
  ]);
  const [gone] = await db.query<{ t: string | null }>("select to_regclass('event_outbox')::text as t");
  expect(gone!.t).toBeNull();
  // the relay starts without a position: its scan finds both wallets' unpublished events
  expect((await unpublishedWallets(db)).users.sort()).toEqual([1, 2]);

  const rows = await applyNew([{ k: 2, id: "9000004", u: 2, a: 20, cur: "USD" }]);
  expect(rows[0]!.outcome).toBe("ok");
  expect(rows[0]!.changes.map(Number)).toEqual([2, 3]); // wallet 2's third version
  const log = await db.query<{ changes: string[] }>("select changes from wallet_changes order by id");
  expect(log.map((r) => r.changes.map(Number))).toEqual([[2, 3]]);

  const report = await verifyLedger({ db });
  expect(report.violations).toEqual([]);
  expect(report.total_balance).toBe("780");
});
