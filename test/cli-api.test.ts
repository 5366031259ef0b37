/**
 * The real `wallet` process in --api mode against a running server: the same
 * operations as direct mode and the same answers, holds as a user, the operator's
 * commands through the admin API, an unreachable server.
 */
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

describe("api mode", () => {
  let server: ServeProcess;
  beforeAll(async () => {
    await seed(1100, 2, 10000);
    server = await startProcess("serve", { ...env, TRANSFER_WORKERS: "2", ADMIN_TOKEN: "a".repeat(32) });
  });
  afterAll(() => server?.stop());

  it("runs the same operations through the server, and agrees with direct mode", async () => {
    const api = (args: string[]) => cli([...args, "--api", server.url]);
    const d = await api(["deposit", "100", "--user", "1100", "--json"]);
    expect(d.json).toEqual({ balance: 10100, currency: "USD", transaction_id: expect.stringMatching(/^\d+$/) });
    const t = await api(["transfer", "30", "--from", "1100", "--to", "1101", "--yes", "--json"]);
    expect(t.json).toMatchObject({ success: true, balance: 10070 });
    const a = await api(["transfer", "20", "--from", "1100", "--to", "1101", "--async", "--json"]);
    expect(a.json).toMatchObject({ status: "completed", amount: 20 });
    const poor = await api(["withdraw", "99999999", "--user", "1101"]);
    expect(poor.code).toBe(1);
    expect(poor.stderr).toMatch(/insufficient_funds/);
    const viaEnv = await cli(["balance", "--user", "1101", "--json"], { WALLET_API_URL: server.url });
    expect(viaEnv.json).toEqual({
      currency: "USD",
      balance: 10050,
      available_balance: 10050,
      version: expect.any(Number),
      credit_limit: 0,
    });
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
