/** `wallet verify` and `wallet migrate`, as real processes, on both engines. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/core/db.js";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";

let env: Record<string, string>;
let drop: () => Promise<void>;

beforeAll(async () => {
  ({ env, drop } = await processDatabase());
});
afterAll(() => drop());

async function tamper(sql: string) {
  const db = await openDatabase({ databaseUrl: env.DATABASE_URL, dataDir: env.WALLET_DATA_DIR ?? "" });
  try {
    await db.knex.raw(sql);
  } finally {
    await db.close();
  }
}

describe("wallet migrate and verify", () => {
  it("migrate status lists the applied migrations", async () => {
    const up = await runCli(["migrate", "--json"], env);
    expect(up.code).toBe(0);
    const r = await runCli(["migrate", "status", "--json"], env);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ applied: ["001_init.sql"], pending: [] });
    const bad = await runCli(["migrate", "sideways"], env);
    expect(bad.code).toBe(2);
  });

  it("passes on a consistent ledger", async () => {
    await tamper(
      "select * from wallet_post('{1,1,3}'::smallint[], '{1,2,1}'::bigint[], '{null,null,2}'::bigint[], '{100,50,30}'::bigint[], '{null,null,null}'::text[], '{null,null,null}'::text[])",
    );
    const r = await runCli(["verify", "--json"], env);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ ok: true, wallets: 2, entries: 4, total_balance: "150", violations: [] });
  });

  it("fails with exit 1 and names the violation when a balance disagrees with its entries", async () => {
    await tamper("update wallets set balance = balance + 1 where user_id = 2");
    const r = await runCli(["verify", "--json"], env);
    expect(r.code).toBe(1);
    expect(r.json.ok).toBe(false);
    const checks = r.json.violations.map((v: { check: string }) => v.check);
    expect(checks).toContain("balance_equals_entries");
    expect(checks).toContain("money_conserved");
    const human = await runCli(["verify"], env);
    expect(human.code).toBe(1);
    expect(human.stdout).toMatch(/VIOLATIONS/);
    expect(human.stdout).toMatch(/wallet 2: balance 81 but its entries sum to 80/);
  });
});
