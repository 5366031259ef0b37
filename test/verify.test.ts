/**
 * `wallet verify` and `wallet migrate`, as real processes, on both engines. Each test
 * has a database of its own, so none depends on another having run first.
 */
import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openDatabase } from "../src/core/db/index.js";
import { ROOT, runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";

let env: Record<string, string>;
let drop: () => Promise<void>;

beforeEach(async () => {
  ({ env, drop } = await processDatabase());
  expect((await runCli(["migrate", "--json"], env)).code).toBe(0);
});
afterEach(() => drop());

async function sql(statement: string) {
  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.WALLET_DATA_DIR ?? "" });
  try {
    await db.query(statement);
  } finally {
    await db.close();
  }
}

/** Two wallets through the money path: 1 gets 100 and pays 30 to 2; 2 gets 50. */
const consistent = () =>
  sql(`select * from wallet_apply('[{"k":1,"id":"11","u":1,"a":100,"cur":"USD"},{"k":1,"id":"12","u":2,"a":50,"cur":"USD"},
                                    {"k":3,"id":"13","u":1,"c":2,"a":30,"cur":"USD"}]')`);

async function violations(): Promise<string[]> {
  const r = await runCli(["verify", "--json"], env);
  expect(r.code).toBe(r.json.ok ? 0 : 1);
  return r.json.violations.map((v: { check: string }) => v.check);
}

describe("wallet migrate and verify", () => {
  it("migrate status lists every migration as applied", async () => {
    const files = fs.readdirSync(path.join(ROOT, "migrations")).filter((f) => /^\d+_.+\.sql$/.test(f));
    const r = await runCli(["migrate", "status", "--json"], env);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ applied: files.sort(), pending: [] });
    expect((await runCli(["migrate", "sideways"], env)).code).toBe(2);
  });

  it("passes on a consistent ledger", async () => {
    await consistent();
    const r = await runCli(["verify", "--json"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, wallets: 2, entries: 4, total_balance: "150", violations: [] });
  });

  it("fails with exit 1 and names the violation when a balance disagrees with its journal", async () => {
    await consistent();
    await sql("update wallets set balance = balance + 1 where user_id = 2");
    expect(await violations()).toEqual(expect.arrayContaining(["balance_equals_journal", "money_conserved"]));
    const human = await runCli(["verify"], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/VIOLATIONS/);
    expect(human.stdout).toMatch(/wallet 2 USD: balance 81 but its journal sums to 80/);
  });

  // the checks are SQL, the same on both engines: PGlite runs the clean pass and the first violation
  it.skipIf(engine === "pglite")("finds a gap in a wallet's sequence", async () => {
    await consistent();
    await sql("update journal set seq = 7 where user_id = 1 and seq = 2");
    expect(await violations()).toContain("journal_sequence");
  });

  it.skipIf(engine === "pglite")("finds a transfer whose two rows do not pair up", async () => {
    await consistent();
    await sql("update journal set amount = 31, balance_after = 81 where user_id = 2 and id = 13");
    await sql("update wallets set balance = 81 where user_id = 2");
    expect(await violations()).toEqual(expect.arrayContaining(["transfer_pairs", "money_conserved"]));
  });
});
