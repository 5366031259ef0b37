/**
 * The real `wallet` process with currencies, in direct mode on the engine under test:
 * --currency on the money and read commands, `wallet balances`, amounts shown in their
 * currency, a malformed code refused on the command line, and exchange end to end
 * (`wallet fx rates set`, `fx quote`, `fx exchange`, `fx positions`).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";

let env: Record<string, string>;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ env, drop: cleanup } = await processDatabase());
});
afterAll(() => cleanup());

const cli = (args: string[], extra: Record<string, string> = {}) => runCli(args, { ...env, ...extra });
const ID = expect.stringMatching(/^\d+$/);

/** Opens wallets first..first+n-1 with a balance in the default currency (USD). */
async function seed(first: number, n: number, balance: number) {
  const r = await cli(["seed", "--users", String(n), "--balance", String(balance), "--first", String(first), "--json"]);
  expect(r.code).toBe(0);
}

describe("--currency in direct mode", () => {
  it("deposits into the wallet of the currency named, and the other currency's balance is untouched", async () => {
    await seed(1200, 1, 10000);
    const d = await cli(["deposit", "500", "--user", "1200", "--currency", "EUR", "--json"]);
    expect(d.code).toBe(0);
    expect(d.json).toEqual({ balance: 500, currency: "EUR", transaction_id: ID });
    const eur = await cli(["balance", "--user", "1200", "--currency", "EUR", "--json"]);
    expect(eur.json).toEqual({ currency: "EUR", balance: 500, available_balance: 500, version: 1, credit_limit: 0 });
    const usd = await cli(["balance", "--user", "1200", "--json"]);
    expect(usd.json).toEqual({
      currency: "USD",
      balance: 10000,
      available_balance: 10000,
      version: 1,
      credit_limit: 0,
    });
  });

  it("lists the history of the currency named, and the default currency's without --currency", async () => {
    await seed(1201, 1, 10000);
    await cli(["deposit", "700", "--user", "1201", "--currency", "JPY"]);
    await cli(["withdraw", "200", "--user", "1201", "--currency", "JPY"]);
    const jpy = await cli(["history", "--user", "1201", "--currency", "JPY", "--json"]);
    expect(jpy.code).toBe(0);
    expect(jpy.json.transactions).toEqual([
      expect.objectContaining({ type: "withdraw", direction: "out", amount: 200, currency: "JPY", balance_after: 500 }),
      expect.objectContaining({ type: "deposit", direction: "in", amount: 700, currency: "JPY", balance_after: 700 }),
    ]);
    const usd = await cli(["history", "--user", "1201", "--json"]);
    expect(usd.json.transactions.map((t: { currency: string; amount: number }) => [t.currency, t.amount])).toEqual([
      ["USD", 10000],
    ]);
  });

  it("shows amounts to people in their currency's minor unit", async () => {
    await seed(1202, 1, 0);
    const jpy = await cli(["deposit", "500", "--user", "1202", "--currency", "JPY"]);
    expect(jpy.stdout).toBe("Deposited 500  500 JPY  to wallet 1202\nbalance   500  500 JPY\n");
    await cli(["deposit", "1170", "--user", "1202", "--currency", "EUR"]);
    const eur = await cli(["balance", "--user", "1202", "--currency", "EUR"]);
    expect(eur.stdout).toBe("wallet 1202  1170  11.70 EUR\n");
    const bhd = await cli(["deposit", "1234", "--user", "1202", "--currency", "BHD"]);
    expect(bhd.stdout).toMatch(/balance {3}1234 {2}1\.234 BHD/);
  });

  it("places a hold, writes a statement, adjusts and inspects in the currency named", async () => {
    await seed(1203, 1, 0);
    await cli(["deposit", "1000", "--user", "1203", "--currency", "EUR"]);
    const hold = await cli(["hold", "300", "--from", "1203", "--currency", "EUR", "--json"]);
    expect(hold.json).toMatchObject({ currency: "EUR", amount: 300, status: "held", available_balance: 700 });
    const adjust = ["adjust", "50", "--user", "1203", "--currency", "EUR", "--reason", "goodwill", "--yes"];
    const adjusted = await cli([...adjust, "--json"]);
    expect(adjusted.code).toBe(0);
    expect(adjusted.json.balance).toBe(1050);
    const inspect = await cli(["inspect", "--user", "1203", "--currency", "EUR", "--json"]);
    expect(inspect.json).toMatchObject({ currency: "EUR", balance: 1050, available_balance: 750, active_holds: 1 });
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 3_600_000).toISOString();
    const st = await cli(["statement", "--user", "1203", "--currency", "EUR", "--from", from, "--to", to, "--json"]);
    expect(st.json).toMatchObject({ currency: "EUR", opening_balance: 0, total_in: 1050, closing_balance: 1050 });
    const currencies = st.json.entries.map((e: { currency: string }) => e.currency);
    expect(currencies.length).toBeGreaterThanOrEqual(2);
    expect(new Set(currencies)).toEqual(new Set(["EUR"]));
  });

  it("lists a user's balances in every currency, sorted by code, as the API answers them", async () => {
    await seed(1204, 1, 2500);
    await cli(["deposit", "900", "--user", "1204", "--currency", "JPY"]);
    await cli(["deposit", "410", "--user", "1204", "--currency", "EUR"]);
    const r = await cli(["balances", "--user", "1204", "--json"]);
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      balances: [
        { currency: "EUR", balance: 410, available_balance: 410, version: 1, credit_limit: 0 },
        { currency: "JPY", balance: 900, available_balance: 900, version: expect.any(Number), credit_limit: 0 },
        { currency: "USD", balance: 2500, available_balance: 2500, version: expect.any(Number), credit_limit: 0 },
      ],
    });
    const table = await cli(["balances", "--user", "1204"]);
    expect(table.stdout).toMatch(/EUR\s+│\s+4\.10 EUR\s+│\s+4\.10 EUR/);
    expect(table.stdout).toMatch(/JPY\s+│\s+900 JPY/);
    expect(table.stdout).toMatch(/USD\s+│\s+\$25\.00/);
  });

  it("lists only the default currency for a user who never used another", async () => {
    await seed(1205, 1, 100);
    await cli(["balance", "--user", "1205", "--currency", "EUR"]); // a read opens no wallet
    const r = await cli(["balances", "--user", "1205", "--json"]);
    expect(r.json).toEqual({
      balances: [
        { currency: "USD", balance: 100, available_balance: 100, version: expect.any(Number), credit_limit: 0 },
      ],
    });
  });

  it.each([
    ["deposit", ["deposit", "5", "--user", "1206"]],
    ["withdraw", ["withdraw", "5", "--user", "1206"]],
    ["transfer", ["transfer", "5", "--from", "1206", "--to", "1207", "--yes"]],
    ["balance", ["balance", "--user", "1206"]],
    ["history", ["history", "--user", "1206"]],
    ["hold", ["hold", "5", "--from", "1206"]],
    ["statement", ["statement", "--user", "1206", "--from", "2026-01-01", "--to", "2026-02-01"]],
    ["adjust", ["adjust", "5", "--user", "1206", "--reason", "x", "--yes"]],
    ["inspect", ["inspect", "--user", "1206"]],
  ])("refuses a malformed --currency on %s as a usage error (exit 2)", async (_name, args) => {
    for (const bad of ["usd", "EURO"]) {
      const r = await cli([...args, "--currency", bad, "--json"]);
      expect(r.code).toBe(2);
      expect(r.json).toEqual({ error: { code: "usage", message: expect.stringMatching(/--currency/) } });
    }
  });

  it("refuses a code that is not an ISO currency (invalid_request) and one outside CURRENCIES", async () => {
    await seed(1208, 1, 100);
    const xyz = await cli(["deposit", "5", "--user", "1208", "--currency", "XYZ", "--json"]);
    expect(xyz.code).toBe(2);
    expect(xyz.json.error.code).toBe("invalid_request");
    const narrowed = { CURRENCIES: "USD,EUR" };
    const jpy = await cli(["deposit", "5", "--user", "1208", "--currency", "JPY", "--json"], narrowed);
    expect(jpy.code).toBe(1);
    expect(jpy.json.error.code).toBe("currency_not_supported");
    expect((await cli(["balances", "--user", "1208", "--json"])).json.balances).toHaveLength(1);
  });
});

describe("exchange in direct mode", () => {
  it("sets a rate, quotes, exchanges, and the balances, history and positions show it", async () => {
    await seed(1220, 1, 10000);
    const set = await cli(["fx", "rates", "set", "USD", "EUR", "0.9215", "--reason", "fixing", "--yes", "--json"]);
    expect(set.code).toBe(0);
    expect(set.json).toEqual({ from: "USD", to: "EUR", rate: "0.9215", updated_at: expect.any(String) });
    const list = await cli(["fx", "rates", "list", "--json"]);
    expect(list.json.rates).toContainEqual({ from: "USD", to: "EUR", rate: "0.9215", updated_at: expect.any(String) });

    const quote = await cli([
      "fx",
      "quote",
      "1000",
      "--from-currency",
      "USD",
      "--to-currency",
      "EUR",
      "--user",
      "1220",
      "--json",
    ]);
    expect(quote.code).toBe(0);
    expect(quote.json).toEqual({
      quote_id: ID,
      from_currency: "USD",
      to_currency: "EUR",
      amount: 1000,
      converted_amount: 921,
      rate: "0.9215",
      expires_at: expect.any(String),
    });
    const done = await cli(["fx", "exchange", quote.json.quote_id, "--user", "1220", "--json"]);
    expect(done.code).toBe(0);
    expect(done.json).toMatchObject({
      quote_id: quote.json.quote_id,
      amount: 1000,
      converted_amount: 921,
      balances: { USD: 9000, EUR: 921 },
    });

    const balances = await cli(["balances", "--user", "1220", "--json"]);
    expect(balances.json.balances).toEqual([
      { currency: "EUR", balance: 921, available_balance: 921, version: 1, credit_limit: 0 },
      { currency: "USD", balance: 9000, available_balance: 9000, version: expect.any(Number), credit_limit: 0 },
    ]);
    const eur = await cli(["history", "--user", "1220", "--currency", "EUR", "--type", "exchange", "--json"]);
    expect(eur.json.transactions).toEqual([
      expect.objectContaining({ type: "exchange", direction: "in", amount: 921, exchange_id: done.json.exchange_id }),
    ]);
    const positions = await cli(["fx", "positions", "--json"]);
    expect(positions.json.positions).toEqual(
      expect.arrayContaining([
        { currency: "EUR", position: -921 },
        { currency: "USD", position: 1000 },
      ]),
    );
    const verify = await cli(["verify", "--json"]);
    expect(verify.json.ok).toBe(true);
  });

  it("refuses a quote executed twice (quote_used), and a pair with no rate (rate_unavailable)", async () => {
    await seed(1221, 1, 10000);
    await cli(["fx", "rates", "set", "USD", "GBP", "0.79", "--yes"]);
    const quote = await cli([
      "fx",
      "quote",
      "500",
      "--from-currency",
      "USD",
      "--to-currency",
      "GBP",
      "--user",
      "1221",
      "--json",
    ]);
    expect((await cli(["fx", "exchange", quote.json.quote_id, "--user", "1221"])).code).toBe(0);
    const again = await cli(["fx", "exchange", quote.json.quote_id, "--user", "1221", "--json"]);
    expect(again.code).toBe(1);
    expect(again.json.error.code).toBe("quote_used");
    const none = await cli([
      "fx",
      "quote",
      "500",
      "--from-currency",
      "GBP",
      "--to-currency",
      "CHF",
      "--user",
      "1221",
      "--json",
    ]);
    expect(none.code).toBe(1);
    expect(none.json.error.code).toBe("rate_unavailable");
  });

  it("prints the quote and the exchange for people, each amount in its currency", async () => {
    await seed(1222, 1, 10000);
    await cli(["fx", "rates", "set", "USD", "JPY", "151.5", "--yes"]);
    const quote = await cli([
      "fx",
      "quote",
      "1000",
      "--from-currency",
      "USD",
      "--to-currency",
      "JPY",
      "--user",
      "1222",
    ]);
    expect(quote.stdout).toMatch(/1000 {2}\$10\.00 {2}-> {2}1515 {2}1515 JPY {2}at 151\.5/);
    const id = /Quote (\d+)/.exec(quote.stdout)?.[1];
    const done = await cli(["fx", "exchange", id!, "--user", "1222"]);
    expect(done.stdout).toMatch(/Exchanged \$10\.00 -> 1515 JPY at 151\.5/);
  });

  it.each([
    [["fx", "rates", "set", "usd", "EUR", "0.9", "--yes"]],
    [["fx", "rates", "set", "USD", "USD", "1", "--yes"]],
    [["fx", "rates", "set", "USD", "EUR", "1,5", "--yes"]],
    [["fx", "rates", "set", "USD", "EUR", "1e3", "--yes"]],
    [["fx", "quote", "100", "--from-currency", "USD", "--user", "1"]],
    [["fx", "quote", "100", "--from-currency", "USD", "--to-currency", "eur", "--user", "1"]],
    [["fx", "quote", "1.5", "--from-currency", "USD", "--to-currency", "EUR", "--user", "1"]],
    [["fx", "exchange", "not-a-quote", "--user", "1"]],
  ])("refuses %j as a usage error (exit 2)", async (args) => {
    const r = await cli([...args, "--json"]);
    expect(r.code).toBe(2);
    expect(r.json.error.code).toBe("usage");
  });
});
