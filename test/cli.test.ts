/**
 * The real `wallet` process for every command in direct mode on the engine under test:
 * exit codes and --json. Holds, the operator's commands, statements and events are in
 * cli-operator.test.ts, --api mode in cli-api.test.ts, the prompts on a terminal in
 * cli-terminal.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ env, drop: cleanup } = await processDatabase());
});
afterAll(() => cleanup());

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });

/** Opens wallets first..first+n-1 with a balance: each test makes the state it reads. */
async function seed(first: number, n: number, balance: number) {
  const r = await cli(["seed", "--users", String(n), "--balance", String(balance), "--first", String(first), "--json"]);
  expect(r.code).toBe(0);
}

describe("direct mode", () => {
  it("seeds wallets", async () => {
    const r = await cli(["seed", "--users", "5", "--balance", "10000", "--first", "1000", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ created: 5, existing: 0, first: 1000, last: 1004 });
    const more = await cli(["seed", "--users", "2", "--balance", "0", "--first", "1005"]);
    expect(more.code).toBe(0);
    expect(more.stdout).toMatch(/Opened 2 wallets/);
  });

  // the same SQL on both engines; on PGlite each CLI call opens the database afresh (slow)
  it.skipIf(engine === "pglite")("changes nothing when it seeds wallets that exist", async () => {
    await seed(1007, 2, 10000);
    const again = await cli(["seed", "--users", "2", "--balance", "999", "--first", "1007", "--json"]);
    expect(again.json).toEqual({ created: 0, existing: 2, first: 1007, last: 1008 });
    expect((await cli(["balance", "--user", "1007", "--json"])).json.balance).toBe(10000);
  });

  it("deposits, withdraws, transfers and shows balances, printing the API's bodies with --json", async () => {
    await seed(1010, 3, 10000);
    const d = await cli(["deposit", "500", "--user", "1010", "--json"]);
    expect(d.code).toBe(0);
    expect(d.json).toEqual({ balance: 10500, currency: "USD", transaction_id: expect.stringMatching(/^\d+$/) });
    const w = await cli(["withdraw", "250", "--user", "1010", "--json"]);
    expect(w.json.balance).toBe(10250);
    const t = await cli(["transfer", "1003", "--from", "1010", "--to", "1011", "--yes", "--json"]);
    expect(t.json).toEqual({
      success: true,
      transfer_id: expect.stringMatching(/^\d+$/),
      balance: 9247,
      currency: "USD",
    });
    const a = await cli(["transfer", "47", "--from", "1010", "--to", "1012", "--async", "--json"]);
    expect(a.code).toBe(0);
    expect(a.json).toMatchObject({ status: "completed", amount: 47, source_user_id: 1010, destination_user_id: 1012 });
    const b = await cli(["balance", "--user", "1010", "--json"]);
    expect(b.json).toEqual({
      currency: "USD",
      balance: 9200,
      available_balance: 9200,
      version: expect.any(Number),
      credit_limit: 0,
    });
    const human = await cli(["balance", "--user", "1011"]);
    expect(human.stdout).toBe("wallet 1011  11003  $110.03\n");
  });

  describe("history", () => {
    beforeAll(async () => {
      await seed(1020, 2, 10000);
      await cli(["deposit", "250", "--user", "1020"]);
      await cli(["transfer", "47", "--from", "1020", "--to", "1021", "--yes"]);
    });

    it("prints history as the API's page document with --json", async () => {
      const h = await cli(["history", "--user", "1020", "--page-size", "2", "--json"]);
      expect(h.json).toMatchObject({ page: 1, page_size: 2, has_more: true });
      expect(h.json.transactions).toHaveLength(2);
      expect(h.json.transactions[0]).toMatchObject({
        type: "transfer",
        direction: "out",
        amount: 47,
        counterparty_user_id: 1021,
      });
    });

    it("filters history by type", async () => {
      const filtered = await cli(["history", "--user", "1020", "--type", "deposit", "--json"]);
      expect(filtered.json.transactions.map((t: { type: string }) => t.type)).toEqual(["deposit", "deposit"]);
    });

    it("prints history as a table for people", async () => {
      const table = await cli(["history", "--user", "1020"]);
      expect(table.stdout).toMatch(/transfer.*-47/);
      expect(table.stdout).toMatch(/\$102\.50/);
    });
  });

  describe("async transfers", () => {
    let id: string;
    beforeAll(async () => {
      await seed(1030, 2, 10000);
      await cli(["transfer", "5", "--from", "1030", "--to", "1031", "--async"]);
      const list = await cli(["transfers", "list", "--user", "1030", "--json"]);
      id = list.json.transfers[0]?.transfer_id;
    });

    it("lists a sender's transfers", async () => {
      const list = await cli(["transfers", "list", "--user", "1030", "--json"]);
      expect(list.json.transfers.map((t: { transfer_id: string }) => t.transfer_id)).toEqual([id]);
      expect(id).toMatch(/^\d+$/);
    });

    it("refuses to retry a transfer that is not dead", async () => {
      const retry = await cli(["transfers", "retry", id]);
      expect(retry.code).toBe(1); // a refusal, not a usage error
      expect(retry.stderr).toMatch(/transfer_not_dead.*not dead/);
      const dead = await cli(["transfers", "list", "--status", "dead", "--user", "1030"]);
      expect(dead.stdout).toBe("no transfers\n");
    });

    it("refuses an id that cannot be a transfer id (past int8) as a usage error", async () => {
      expect((await cli(["transfers", "retry", "99999999999999999999"])).code).toBe(2);
    });
  });

  it.skipIf(engine === "pglite")("exits 1 with the refusal's code for a refused operation", async () => {
    await seed(1040, 1, 100);
    const poor = await cli(["withdraw", "99999999", "--user", "1040", "--json"]);
    expect(poor.code).toBe(1);
    expect(poor.json).toEqual({ error: { code: "insufficient_funds", message: expect.any(String) } });
    expect(poor.stderr).toMatch(/insufficient_funds/);
    const self = await cli(["transfer", "1", "--from", "1040", "--to", "1040", "--yes"]);
    expect(self.code).toBe(1);
    expect(self.stderr).toMatch(/same_wallet/);
    const missing = await cli(["transfer", "1", "--from", "1040", "--to", "424242", "--yes"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/wallet_not_found/);
  });

  // usage and help never reach the database: one engine is enough
  it.skipIf(engine === "pglite")("exits 2 for usage errors", async () => {
    for (const args of [
      ["deposit", "12abc", "--user", "1"],
      ["deposit", "0", "--user", "1"],
      ["deposit", "1.5", "--user", "1"],
      ["deposit", "5", "--user", "x"],
      ["history", "--user", "1", "--page-size", "500"],
      ["bogus-command"],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(" ")).toBe(2);
    }
    const noUser = await cli(["deposit", "5"]);
    expect(noUser.code).toBe(2);
    expect(noUser.stderr).toMatch(/missing --user/);
    const noAmount = await cli(["transfer", "--from", "1", "--to", "2"]);
    expect(noAmount.stderr).toMatch(/missing amount/);
  });

  it("prints a token in token mode", async () => {
    const noSecret = await cli(["token", "--user", "1"]);
    expect(noSecret.code).toBe(2);
    const t = await cli(["token", "--user", "1", "--ttl", "60", "--json"], { AUTH_SECRET: "s".repeat(32) });
    expect(t.code).toBe(0);
    expect(t.json.token.split(".")).toHaveLength(3);
  });

  it("verifies the ledger", async () => {
    await seed(1050, 2, 10);
    const v = await cli(["verify", "--json"]);
    expect(v.json).toMatchObject({ ok: true, violations: [] });
    expect(v.json.wallets).toBeGreaterThanOrEqual(2);
  });

  it.skipIf(engine === "pglite")("has help with examples for every command", async () => {
    const top = await cli(["--help"]);
    expect(top.code).toBe(0);
    for (const c of [
      "serve",
      "worker",
      "migrate",
      "seed",
      "deposit",
      "withdraw",
      "transfer",
      "balance",
      "history",
      "transfers",
      "verify",
      "token",
    ]) {
      expect(top.stdout).toContain(c);
    }
    const help = await cli(["transfer", "--help"]);
    expect(help.stdout).toMatch(/Examples:/);
  });
});
