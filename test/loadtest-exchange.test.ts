/**
 * `wallet loadtest --scenario exchange`, the real command on its own in-process server
 * and a fresh in-memory database: wallets funded in USD and EUR, both rates set, each
 * iteration a quote then its exchange; afterwards, per currency, the users' balances
 * plus the platform's position are what they were, and every invariant holds.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runCli, type CliResult } from "./helpers/cli.js";

describe("loadtest --scenario exchange", () => {
  let r: CliResult;
  beforeAll(async () => {
    const args = ["loadtest", "--scenario", "exchange", "--duration", "3", "--concurrency", "4", "--users", "10"];
    const alone = { DATABASE_URL: "", REDIS_URL: "", NATS_URL: "", WALLET_DATA_DIR: "memory://" };
    r = await runCli([...args, "--json"], alone);
  });

  it("quotes and exchanges without an error", () => {
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ scenario: "exchange", errors: {} });
    expect(r.json.exchanges).toBeGreaterThan(0);
    expect(r.json.statuses[201]).toBeGreaterThanOrEqual(r.json.exchanges); // each exchange follows its quote
  });

  it("leaves each currency's balances plus position as they were, and the ledger clean", () => {
    const { by_currency, ok, verify } = r.json.ledger;
    expect(Object.keys(by_currency).sort()).toEqual(["EUR", "USD"]);
    for (const c of ["EUR", "USD"]) expect(by_currency[c].after).toBe(by_currency[c].before);
    expect(by_currency.USD.before).toBeGreaterThan(0);
    expect({ ok, verify }).toEqual({ ok: true, verify: "clean" });
  });
});
