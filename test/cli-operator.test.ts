/**
 * The real `wallet` process in direct mode on the engine under test: holds as the
 * operator, the operator's commands and their actor, statements and past balances,
 * events.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
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

describe("direct mode, as the operator", () => {
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

  it("passes an operator's reference, metadata and expected version on", async () => {
    await seed(1075, 1, 1000);
    const act = ["--actor", "ann", "--yes", "--json"];
    const stale = await cli(["adjust", "-5", "--user", "1075", "--reason", "fee", "--expected-version", "99", ...act]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/version_mismatch/);
    const v = (await cli(["balance", "--user", "1075", "--json"])).json.version as number;
    const tags = ["--reference", "case-7", "--metadata", "ticket=7", "--expected-version", String(v)];
    const ok = await cli(["adjust", "-5", "--user", "1075", "--reason", "fee", ...tags, ...act]);
    expect(ok.json).toMatchObject({ amount: -5, balance: 995 });
    const found = await cli(["history", "--user", "1075", "--reference", "case-7", "--json"]);
    expect(found.json.transactions.map((e: { metadata: object }) => e.metadata)).toEqual([{ ticket: "7" }]);
  });

  it("writes a statement as RFC 4180 CSV", async () => {
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
      "id,created_at,type,direction,amount,currency,balance_after,counterparty_user_id,transfer_id,hold_id,reverses,exchange_id",
    );
    expect(lines.at(-1)).toBe(""); // every record ends with CRLF
    expect(lines.slice(1, -1).map((l) => l.split(",")[2])).toEqual(["deposit", "deposit"]);
    const json = await cli(["statement", "--user", "1080", "--from", from, "--to", to, "--json"]);
    expect(json.json).toMatchObject({ opening_balance: 0, total_in: 507, total_out: 0, closing_balance: 507 });
  });

  it("answers a past balance", async () => {
    await seed(1085, 1, 500);
    expect(
      (await cli(["balance", "--user", "1085", "--at", new Date(Date.now() + 60_000).toISOString(), "--json"])).json,
    ).toMatchObject({ balance: 500 });
    const past = await cli(["balance", "--user", "1085", "--at", "2001-01-01", "--json"]);
    expect(past.json).toMatchObject({ balance: 0 });
    expect((await cli(["balance", "--user", "1085", "--at", "whenever"])).code).toBe(2);
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
});
