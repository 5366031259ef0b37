/**
 * A database migrated by an earlier release (through 005: NOTIFY and event_outbox)
 * and holding money and unpublished events takes migration 006 (the change log) and
 * goes on: the ledger verifies, new writes reach the change log, and the relay's first
 * pass finds every wallet whose events it has not published.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/core/db/index.js";
import { MIGRATIONS_DIR, migrateLatest } from "../src/core/migrate.js";
import { unpublishedWallets } from "../src/core/store/events.js";
import { verifyLedger } from "../src/core/verify.js";
import { adminQuery } from "./helpers/db.js";
import { dbUrl, engine } from "./helpers/env.js";

let db: Database;
let drop = async () => undefined as void;
const oldDir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-migrations-005-"));

beforeAll(async () => {
  for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => /^00[1-5]_.+\.sql$/.test(f))) {
    fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(oldDir, f));
  }
  if (engine === "pglite") {
    db = await openDatabase({ dataDir: "memory://" });
  } else {
    const name = `wallet_upgrade_${randomBytes(4).toString("hex")}`;
    await adminQuery(`create database ${name}`);
    db = await openDatabase({ databaseUrl: dbUrl(name), dataDir: "" });
    drop = () => adminQuery(`drop database if exists ${name} with (force)`);
  }
});

afterAll(async () => {
  await db?.close();
  await drop();
  fs.rmSync(oldDir, { recursive: true, force: true });
});

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

  expect(await migrateLatest(db)).toEqual(["006_change_log.sql", "007_plan_cached_helpers.sql", "008_currencies.sql"]);
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
