/**
 * The real `wallet` process for every command: direct mode on the engine under test,
 * --api mode against a running server, and the two agreeing; exit codes and --json.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";

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
  it("seeds wallets, and seeding again changes nothing", async () => {
    const r = await cli(["seed", "--users", "5", "--balance", "10000", "--first", "1000", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({ created: 5, existing: 0, first: 1000, last: 1004 });
    const again = await cli(["seed", "--users", "5", "--balance", "999", "--first", "1000", "--json"]);
    expect(again.json).toEqual({ created: 0, existing: 5, first: 1000, last: 1004 });
    const more = await cli(["seed", "--users", "2", "--balance", "0", "--first", "1005"]);
    expect(more.code).toBe(0);
    expect(more.stdout).toMatch(/Opened 2 wallets/);
  });

  it("deposits, withdraws, transfers and shows balances, printing the API's bodies with --json", async () => {
    await seed(1010, 3, 10000);
    const d = await cli(["deposit", "500", "--user", "1010", "--json"]);
    expect(d.code).toBe(0);
    expect(d.json).toEqual({ balance: 10500, transaction_id: expect.stringMatching(/^\d+$/) });
    const w = await cli(["withdraw", "250", "--user", "1010", "--json"]);
    expect(w.json.balance).toBe(10250);
    const t = await cli(["transfer", "1003", "--from", "1010", "--to", "1011", "--yes", "--json"]);
    expect(t.json).toEqual({ success: true, transfer_id: expect.stringMatching(/^\d+$/), balance: 9247 });
    const a = await cli(["transfer", "47", "--from", "1010", "--to", "1012", "--async", "--json"]);
    expect(a.code).toBe(0);
    expect(a.json).toMatchObject({ status: "completed", amount: 47, source_user_id: 1010, destination_user_id: 1012 });
    const b = await cli(["balance", "--user", "1010", "--json"]);
    expect(b.json).toEqual({ balance: 9200, available_balance: 9200 });
    const human = await cli(["balance", "--user", "1011"]);
    expect(human.stdout).toBe("wallet 1011  11003  $110.03\n");
  });

  it("prints history as the API's page document, and as a table for people", async () => {
    await seed(1020, 2, 10000);
    await cli(["deposit", "250", "--user", "1020"]);
    await cli(["transfer", "47", "--from", "1020", "--to", "1021", "--yes"]);
    const h = await cli(["history", "--user", "1020", "--page-size", "2", "--json"]);
    expect(h.json).toMatchObject({ page: 1, page_size: 2, has_more: true });
    expect(h.json.transactions).toHaveLength(2);
    expect(h.json.transactions[0]).toMatchObject({
      type: "transfer",
      direction: "out",
      amount: 47,
      counterparty_user_id: 1021,
    });
    const filtered = await cli(["history", "--user", "1020", "--type", "deposit", "--json"]);
    expect(filtered.json.transactions.map((t: { type: string }) => t.type)).toEqual(["deposit", "deposit"]);
    const table = await cli(["history", "--user", "1020"]);
    expect(table.stdout).toMatch(/transfer.*-47/);
    expect(table.stdout).toMatch(/\$102\.50/);
  });

  it("lists and refuses to retry a transfer that is not dead", async () => {
    await seed(1030, 2, 10000);
    await cli(["transfer", "5", "--from", "1030", "--to", "1031", "--async"]);
    const list = await cli(["transfers", "list", "--user", "1030", "--json"]);
    expect(list.json.transfers.length).toBe(1);
    const id = list.json.transfers[0].transfer_id;
    const retry = await cli(["transfers", "retry", id]);
    expect(retry.code).toBe(1); // a refusal, not a usage error
    expect(retry.stderr).toMatch(/transfer_not_dead.*not dead/);
    const dead = await cli(["transfers", "list", "--status", "dead", "--user", "1030"]);
    expect(dead.stdout).toBe("no transfers\n");
    // an id that cannot be a transfer id (past int8) is a usage error
    expect((await cli(["transfers", "retry", "99999999999999999999"])).code).toBe(2);
  });

  it("exits 1 with the code for a refused operation, 2 for usage errors", async () => {
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

  it("places, captures, voids and lists holds as the operator", async () => {
    await seed(1060, 2, 10000);
    const h = await cli(["hold", "2500", "--from", "1060", "--to", "1061", "--expires-in", "900", "--json"]);
    expect(h.code).toBe(0);
    expect(h.json).toMatchObject({ status: "held", amount: 2500, balance: 10000, available_balance: 7500 });
    const bal = await cli(["balance", "--user", "1060"]);
    expect(bal.stdout).toMatch(/available\s+7500/);
    // direct mode is the operator: it may capture a hold that has a destination
    const c = await cli(["capture", h.json.hold_id, "1000", "--json"]);
    expect(c.json).toMatchObject({ status: "captured", captured_amount: 1000, balance: 9000, available_balance: 9000 });
    const again = await cli(["capture", h.json.hold_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/hold_not_active/);
    const h2 = await cli(["hold", "300", "--from", "1060", "--json"]);
    const v = await cli(["void", h2.json.hold_id]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/Voided/);
    const list = await cli(["holds", "list", "--user", "1060", "--json"]);
    expect(list.json.holds.map((x: { status: string }) => x.status)).toEqual(["voided", "captured"]);
    const table = await cli(["holds", "list", "--user", "1060"]);
    expect(table.stdout).toMatch(/captured/);
    expect((await cli(["capture", "not-a-hold"])).code).toBe(2);
    expect((await cli(["holds", "list", "--user", "1060", "--status", "open"])).code).toBe(2);
  });

  it("runs the operator's commands, recording the actor", async () => {
    await seed(1070, 2, 10000);
    const act = ["--actor", "ann", "--yes"];
    const frozen = await cli(["freeze", "--user", "1070", "--reason", "review #9", ...act, "--json"]);
    expect(frozen.json).toMatchObject({ user_id: 1070, frozen: true, frozen_reason: "review #9" });
    const refused = await cli(["withdraw", "5", "--user", "1070"]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/wallet_frozen/);
    expect((await cli(["unfreeze", "--user", "1070", "--reason", "ok", ...act])).stdout).toMatch(/Unfrozen/);
    const adj = await cli(["adjust", "-250", "--user", "1070", "--reason", "fee", ...act, "--json"]);
    expect(adj.json).toMatchObject({ amount: -250, balance: 9750 });
    const t = await cli(["transfer", "600", "--from", "1070", "--to", "1071", "--yes", "--json"]);
    const rev = await cli(["reverse", t.json.transfer_id, "--amount", "100", "--reason", "refund", ...act, "--json"]);
    expect(rev.json).toMatchObject({ amount: 100, remaining: 500, from_user_id: 1071, to_user_id: 1070 });
    const inspect = await cli(["inspect", "--user", "1071"]);
    expect(inspect.stdout).toMatch(/balance\s+10500/);
    const audit = await cli(["audit", "--limit", "1000", "--json"]);
    const mine = audit.json.entries.filter((e: { target: string }) => /wallet:1070|transfer:/.test(e.target));
    expect(mine.map((e: { action: string; actor: string }) => `${e.action}:${e.actor}`)).toEqual(
      expect.arrayContaining(["freeze:ann", "unfreeze:ann", "adjustment:ann", "reversal:ann"]),
    );
    expect((await cli(["freeze", "--user", "1070", "--yes"])).code).toBe(2); // no reason
    expect((await cli(["adjust", "0", "--user", "1070", "--reason", "x", "--yes"])).code).toBe(2);
  });

  it("writes a statement as RFC 4180 CSV, and answers a past balance", async () => {
    await seed(1080, 1, 500);
    const from = new Date(Date.now() - 60_000).toISOString();
    await cli(["deposit", "7", "--user", "1080"]);
    const to = new Date(Date.now() + 60_000).toISOString();
    const file = path.join(os.tmpdir(), `statement-${process.pid}-${engine}.csv`);
    const r = await cli(["statement", "--user", "1080", "--from", from, "--to", to, "--csv", "--out", file]);
    expect(r.code).toBe(0);
    const csv = fs.readFileSync(file, "utf8");
    fs.rmSync(file);
    const lines = csv.split("\r\n");
    expect(lines[0]).toBe(
      "id,created_at,type,direction,amount,balance_after,counterparty_user_id,transfer_id,hold_id,reverses",
    );
    expect(lines.at(-1)).toBe(""); // every record ends with CRLF
    expect(lines.slice(1, -1).map((l) => l.split(",")[2])).toEqual(["deposit", "deposit"]);
    const json = await cli(["statement", "--user", "1080", "--from", from, "--to", to, "--json"]);
    expect(json.json).toMatchObject({ opening_balance: 0, total_in: 507, total_out: 0, closing_balance: 507 });
    const past = await cli(["balance", "--user", "1080", "--at", "2001-01-01", "--json"]);
    expect(past.json).toMatchObject({ balance: 0 });
    expect((await cli(["balance", "--user", "1080", "--at", "whenever"])).code).toBe(2);
  });

  it("prints a wallet's events", async () => {
    await seed(1090, 1, 100);
    await cli(["withdraw", "30", "--user", "1090"]);
    const r = await cli(["events", "--user", "1090", "--json"]);
    expect(r.json.events.map((e: { type: string }) => e.type)).toEqual(["deposit", "withdraw"]);
    expect(r.json.next_after).toBe(2);
    const human = await cli(["events", "--user", "1090", "--after", "1"]);
    expect(human.stdout).toMatch(/withdraw.*balance 70/);
    expect((await cli(["events", "prune", "--older-than", "0", "--json"])).json).toEqual({ pruned: 0 });
  });

  it("prints a token in token mode and verifies the ledger", async () => {
    const noSecret = await cli(["token", "--user", "1"]);
    expect(noSecret.code).toBe(2);
    const t = await cli(["token", "--user", "1", "--ttl", "60", "--json"], { AUTH_SECRET: "s".repeat(32) });
    expect(t.code).toBe(0);
    expect(t.json.token.split(".")).toHaveLength(3);
    await seed(1050, 2, 10);
    const v = await cli(["verify", "--json"]);
    expect(v.json).toMatchObject({ ok: true, violations: [] });
    expect(v.json.wallets).toBeGreaterThanOrEqual(2);
  });

  it("has help with examples for every command", async () => {
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

describe("api mode", () => {
  let server: ServeProcess;
  beforeAll(async () => {
    await seed(1100, 2, 10000);
    server = await startProcess("serve", { ...env, TRANSFER_WORKERS: "2", ADMIN_TOKEN: "a".repeat(32) });
  });
  afterAll(() => server.stop());

  it("runs the same operations through the server, and agrees with direct mode", async () => {
    const api = (args: string[]) => cli([...args, "--api", server.url]);
    const d = await api(["deposit", "100", "--user", "1100", "--json"]);
    expect(d.json).toEqual({ balance: 10100, transaction_id: expect.stringMatching(/^\d+$/) });
    const t = await api(["transfer", "30", "--from", "1100", "--to", "1101", "--yes", "--json"]);
    expect(t.json).toMatchObject({ success: true, balance: 10070 });
    const a = await api(["transfer", "20", "--from", "1100", "--to", "1101", "--async", "--json"]);
    expect(a.json).toMatchObject({ status: "completed", amount: 20 });
    const poor = await api(["withdraw", "99999999", "--user", "1101"]);
    expect(poor.code).toBe(1);
    expect(poor.stderr).toMatch(/insufficient_funds/);
    const viaEnv = await cli(["balance", "--user", "1101", "--json"], { WALLET_API_URL: server.url });
    expect(viaEnv.json).toEqual({ balance: 10050, available_balance: 10050 });
    const apiHistory = await api(["history", "--user", "1100", "--json"]);
    expect(apiHistory.json.transactions.length).toBe(4);
    if (engine === "pg") {
      // direct mode reads the same database the server writes
      const direct = await cli(["history", "--user", "1100", "--json"]);
      expect(direct.json).toEqual(apiHistory.json);
      const directBalance = await cli(["balance", "--user", "1100", "--json"]);
      expect(directBalance.json).toEqual((await api(["balance", "--user", "1100", "--json"])).json);
    } else {
      // the embedded database serves one process: direct mode says so and points at --api
      const direct = await cli(["balance", "--user", "1100"]);
      expect(direct.code).toBe(1);
      expect(direct.stderr).toMatch(/--api/);
    }
  });

  it("acts on holds as the user named by --user over the API", async () => {
    const api = (args: string[]) => cli([...args, "--api", server.url]);
    const h = await api(["hold", "40", "--from", "1100", "--to", "1101", "--json"]);
    expect(h.json).toMatchObject({ status: "held", amount: 40 });
    const noUser = await api(["capture", h.json.hold_id]);
    expect(noUser.code).toBe(2);
    const payer = await api(["capture", h.json.hold_id, "--user", "1100"]);
    expect(payer.code).toBe(1);
    expect(payer.stderr).toMatch(/forbidden/);
    const dest = await api(["capture", h.json.hold_id, "15", "--user", "1101", "--json"]);
    expect(dest.json).toMatchObject({ status: "captured", captured_amount: 15 });
    const shown = await api(["holds", "show", h.json.hold_id, "--user", "1101", "--json"]);
    expect(shown.json).toMatchObject({ status: "captured", hold_id: h.json.hold_id });
  });

  it("runs the operator's commands through the admin API with WALLET_ADMIN_TOKEN", async () => {
    const api = (args: string[], extra: Record<string, string> = { WALLET_ADMIN_TOKEN: "a".repeat(32) }) =>
      cli([...args, "--api", server.url, "--actor", "api-ann"], extra);
    const f = await api(["freeze", "--user", "1101", "--reason", "api review", "--yes", "--json"]);
    expect(f.json).toMatchObject({ user_id: 1101, frozen: true });
    const u = await api(["unfreeze", "--user", "1101", "--reason", "done", "--json"]);
    expect(u.json.frozen).toBe(false);
    const audit = await api(["audit", "--json"]);
    expect(audit.json.entries.at(-1)).toMatchObject({ action: "unfreeze", actor: "api-ann", target: "wallet:1101" });
    const noToken = await api(["inspect", "--user", "1101"], {});
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/WALLET_ADMIN_TOKEN/);
    const wrong = await api(["inspect", "--user", "1101"], { WALLET_ADMIN_TOKEN: "b".repeat(32) });
    expect(wrong.stderr).toMatch(/unauthorized/);
  });

  it("says which server it could not reach", async () => {
    const r = await cli(["balance", "--user", "1", "--api", "http://127.0.0.1:9"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/could not reach the wallet server at http:\/\/127\.0\.0\.1:9/);
  });
});

describe("on a terminal", () => {
  it("asks for missing arguments and for confirmation", async () => {
    expect((await cli(["seed", "--users", "2", "--balance", "1000", "--first", "100"])).code).toBe(0);
    const session = `wallet-${process.pid}-${engine}`;
    const { execFileSync } = await import("node:child_process");
    const { BIN } = await import("./helpers/cli.js");
    const envArgs = Object.entries({ ...env, NO_COLOR: "1", WALLET_API_URL: "" }).flatMap(([k, v]) => [
      "-e",
      `${k}=${v}`,
    ]);
    const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
    tmux(
      "new-session",
      "-d",
      "-s",
      session,
      "-x",
      "120",
      "-y",
      "30",
      ...envArgs,
      `${process.execPath} ${BIN} transfer --from 100 --to 101; sleep 30`,
    );
    const screen = async (pattern: RegExp) => {
      for (let i = 0; i < 100; i++) {
        const text = tmux("capture-pane", "-p", "-t", session);
        if (pattern.test(text)) return text;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(`never saw ${pattern}:\n${tmux("capture-pane", "-p", "-t", session)}`);
    };
    try {
      await screen(/Amount in cents/);
      tmux("send-keys", "-t", session, "abc", "Enter");
      await screen(/must be a positive whole number/);
      tmux("send-keys", "-t", session, "BSpace", "BSpace", "BSpace", "0", "Enter");
      await screen(/Transfer 0 cents|must be/);
      tmux("send-keys", "-t", session, "BSpace", "25", "Enter");
      await screen(/Transfer 25 cents \(\$0\.25\) from wallet 100 to wallet 101\?/);
      tmux("send-keys", "-t", session, "y", "Enter");
      const done = await screen(/Transferred/);
      expect(done).toMatch(/Transferred 25/);
    } finally {
      tmux("kill-session", "-t", session);
    }
  });
});
