/**
 * The limits commands of the real `wallet` process: over the API (admin token and a
 * user's reads, on both engines) and one direct-mode round on the engine under test
 * (direct-mode money commands are users' debits: limits apply to them).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { ADMIN_TOKEN } from "./helpers/limits.js";
import { post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN });
});
afterAll(() => s?.stop());

const api = (args: string[]) =>
  runCli([...args, "--api", s.url, "--json"], { WALLET_ADMIN_TOKEN: ADMIN_TOKEN, WALLET_ACTOR: "" });

describe("over the API", () => {
  it("sets a tier's limits per currency, keeping its other currencies, and lists tiers", async () => {
    expect((await api(["tiers", "set", "gold", "--currency", "USD", "--daily-debit-amount", "500"])).code).toBe(0);
    const r = await api(["tiers", "set", "gold", "--currency", "EUR", "--max-debit", "70", "--actor", "ops"]);
    expect(r.json).toEqual({ name: "gold", limits: { USD: { daily_debit_amount: 500 }, EUR: { max_debit: 70 } } });
    const list = await api(["tiers", "list"]);
    expect(list.json.tiers).toContainEqual(r.json);
    expect((await api(["tiers", "set", "gold", "--max-debit", "1"])).code).toBe(2); // --currency is required
  });

  it("assigns a tier and a credit line, shows the limits, and prints a refusal's details", async () => {
    expect((await post(s.url, "/api/deposit/v1", 5, { amount: 1000 })).status).toBe(200);
    const t = await api(["tier", "gold", "--user", "5", "--reason", "vip"]);
    expect(t.json).toMatchObject({ user_id: 5, tier: "gold" });
    const c = await api(["credit-limit", "300", "--user", "5", "--reason", "trusted"]);
    expect(c.json).toMatchObject({ credit_limit: 300, available_balance: 1300 });
    expect((await api(["withdraw", "400", "--user", "5"])).code).toBe(0);
    const refused = await api(["withdraw", "101", "--user", "5"]);
    expect(refused.code).toBe(1);
    expect(refused.json.error).toMatchObject({
      code: "limit_exceeded",
      details: { limit: "daily_debit_amount", remaining: 100 },
    });
    const l = await api(["limits", "--user", "5"]);
    expect(l.json).toMatchObject({
      tier: "gold",
      currency: "USD",
      credit_limit: 300,
      limits: [{ name: "daily_debit_amount", limit: 500, used: 400, remaining: 100 }],
    });
    expect((await api(["credit-limit", "300", "--user", "5"])).code).toBe(2); // --reason is required
  });
});

describe("direct mode", () => {
  it("judges the CLI's own debits by the user's tier (every user is in default)", async () => {
    const { env, drop } = await processDatabase();
    try {
      const cli = (args: string[]) => runCli([...args, "--json"], env);
      expect((await cli(["tiers", "set", "default", "--currency", "USD", "--max-debit", "50"])).code).toBe(0);
      expect((await cli(["deposit", "1000", "--user", "7"])).code).toBe(0);
      const r = await cli(["withdraw", "60", "--user", "7"]);
      expect(r.json.error).toMatchObject({ code: "limit_exceeded", details: { limit: "max_debit", remaining: 50 } });
    } finally {
      await drop();
    }
  });
});
