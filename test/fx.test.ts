/** Exchange at an explicit, quoted rate: rates, quotes, execution once, positions and the ledger. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "t".repeat(40);
const admin = { authorization: `Bearer ${TOKEN}`, "x-actor": "treasury" };
let s: TestServer;

const setRate = (from: string, to: string, rate: string) =>
  call(s.url, "PUT", `/admin/v1/fx/rates/${from}/${to}`, { headers: admin, body: { rate } });
const quote = (user: number, from: string, to: string, amount: number) =>
  post(s.url, "/api/fx/quotes/v1", user, { from_currency: from, to_currency: to, amount });
const exchange = (user: number, quoteId: string, headers?: Record<string, string>) =>
  post(s.url, "/api/fx/exchanges/v1", user, { quote_id: quoteId }, headers);
const balanceIn = async (user: number, currency: string) =>
  (await get(s.url, `/api/wallet/balance/v1?currency=${currency}`, user)).body.balance as number;

beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN: TOKEN, FX_QUOTE_TTL_S: "30" });
  expect((await setRate("USD", "JPY", "151.237")).status).toBe(200);
  expect((await setRate("JPY", "BHD", "0.00251")).status).toBe(200);
  expect((await setRate("EUR", "USD", "1.0850")).status).toBe(200);
  expect((await setRate("JPY", "EUR", "0.0061")).status).toBe(200);
});
afterAll(() => s?.stop());

describe("rates", () => {
  it("are set by the operator, audited, and listed for users", async () => {
    const r = await setRate("USD", "EUR", "0.92150");
    expect(r.body).toMatchObject({ from: "USD", to: "EUR", rate: "0.9215" });
    const list = await get(s.url, "/api/fx/rates/v1", 1);
    expect(list.body.rates).toContainEqual(expect.objectContaining({ from: "USD", to: "EUR", rate: "0.9215" }));
    const audit = await call(s.url, "GET", "/admin/v1/audit?limit=1000", { headers: admin });
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({ action: "fx_rate", target: "USD/EUR", actor: "treasury" }),
    );
  });

  it.each(["0", "-1", "1e3", "abc", "1.2345678901234", ""])("refuses the rate %s with 400", async (rate) => {
    expect((await setRate("USD", "GBP", rate)).status).toBe(400);
  });

  it("counts significant digits without leading or trailing zeros", async () => {
    expect((await setRate("USD", "GBP", "0.000123456789012000")).status).toBe(200);
  });

  it("refuses a pair of one currency with 400", async () => {
    expect((await setRate("USD", "USD", "1")).status).toBe(400);
  });
});

describe("quotes", () => {
  it("convert exactly across exponents, rounding down (USD cents to yen)", async () => {
    const r = await quote(30, "USD", "JPY", 999);
    expect(r.status).toBe(201);
    // 9.99 USD x 151.237 = 1510.85763 yen
    expect(r.body).toMatchObject({ from_currency: "USD", to_currency: "JPY", amount: 999, converted_amount: 1510 });
    expect(r.body.rate).toBe("151.237");
  });

  it("convert exactly from yen to fils (three decimals)", async () => {
    // 3 yen x 0.00251 = 0.00753 BHD = 7.53 fils
    expect((await quote(30, "JPY", "BHD", 3)).body.converted_amount).toBe(7);
  });

  it("refuse an amount that converts to less than one minor unit with 422 amount_too_small", async () => {
    // 1 yen x 0.0061 = 0.0061 EUR = 0.61 cents
    const r = await quote(30, "JPY", "EUR", 1);
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("amount_too_small");
  });

  it("refuse a pair without a rate with 422 rate_unavailable", async () => {
    expect((await quote(30, "JPY", "USD", 100)).body.error.code).toBe("rate_unavailable");
  });

  it("refuse the same currency twice, and a missing currency, with 400", async () => {
    expect((await quote(30, "USD", "USD", 100)).status).toBe(400);
    expect((await post(s.url, "/api/fx/quotes/v1", 30, { from_currency: "USD", amount: 1 })).status).toBe(400);
  });

  it("keep their rate whatever the operator sets afterwards", async () => {
    await post(s.url, "/api/deposit/v1", 31, { amount: 10_000, currency: "EUR" });
    const q = await quote(31, "EUR", "USD", 10_000);
    expect(q.body.converted_amount).toBe(10_850);
    await setRate("EUR", "USD", "2");
    const done = await exchange(31, q.body.quote_id);
    expect(done.status).toBe(200);
    expect(done.body).toMatchObject({ converted_amount: 10_850, rate: "1.085", balances: { EUR: 0, USD: 10_850 } });
    await setRate("EUR", "USD", "1.0850");
  });
});

describe("exchanges", () => {
  it("move the amount out of one wallet and the converted amount into the other, once", async () => {
    await post(s.url, "/api/deposit/v1", 40, { amount: 10_000 });
    const q = await quote(40, "USD", "JPY", 1000);
    const done = await exchange(40, q.body.quote_id);
    expect(done.body).toMatchObject({
      quote_id: q.body.quote_id,
      from_currency: "USD",
      to_currency: "JPY",
      amount: 1000,
      converted_amount: 1512,
      balances: { USD: 9000, JPY: 1512 },
    });
    const again = await exchange(40, q.body.quote_id);
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe("quote_used");
    expect(await balanceIn(40, "USD")).toBe(9000);
    const h = await get(s.url, "/api/transactions/v1?currency=JPY&type=6", 40);
    expect(h.body.transactions).toEqual([
      expect.objectContaining({ type: "exchange", direction: "in", amount: 1512, exchange_id: done.body.exchange_id }),
    ]);
    const events = await get(s.url, "/api/events/v1", 40);
    expect(events.body.events.map((e: any) => e.type)).toEqual(["deposit", "exchange_out", "exchange_in"]);
    expect(events.body.events[2].data).toMatchObject({ currency: "JPY", exchange_id: done.body.exchange_id });
  });

  it("answer another user's quote with 404 not_found", async () => {
    await post(s.url, "/api/deposit/v1", 41, { amount: 100 });
    const q = await quote(41, "USD", "JPY", 100);
    expect((await exchange(42, q.body.quote_id)).status).toBe(404);
    expect((await exchange(41, "123456")).status).toBe(404);
    expect((await exchange(41, "9999999999999999999")).status).toBe(404);
  });

  it("refuse what the from wallet cannot cover and leave the quote usable", async () => {
    const q = await quote(43, "USD", "JPY", 500);
    expect((await exchange(43, q.body.quote_id)).body.error.code).toBe("insufficient_funds");
    await post(s.url, "/api/deposit/v1", 43, { amount: 500 });
    expect((await exchange(43, q.body.quote_id)).status).toBe(200);
  });

  it("refuse an expired quote with 409 quote_expired, judged by the database clock", async () => {
    await post(s.url, "/api/deposit/v1", 44, { amount: 100 });
    const q = await quote(44, "USD", "JPY", 100);
    await s.services.ctx.db.query("update fx_quotes set expires_at = now() - interval '1 ms' where id = $1", [
      q.body.quote_id,
    ]);
    const r = await exchange(44, q.body.quote_id);
    expect(r.status).toBe(409);
    expect(r.body.error.code).toBe("quote_expired");
  });

  it("replay an exchange with its Idempotency-Key", async () => {
    await post(s.url, "/api/deposit/v1", 45, { amount: 100 });
    const q = await quote(45, "USD", "JPY", 100);
    const first = await exchange(45, q.body.quote_id, { "idempotency-key": "fx-45" });
    const second = await exchange(45, q.body.quote_id, { "idempotency-key": "fx-45" });
    expect(second.headers["idempotent-replayed"]).toBe("true");
    expect(second.body).toEqual(first.body);
  });

  it("never overdraw under concurrent exchanges of one wallet", async () => {
    await post(s.url, "/api/deposit/v1", 46, { amount: 1000 });
    const quotes = await Promise.all(Array.from({ length: 12 }, () => quote(46, "USD", "JPY", 100)));
    const answers = await Promise.all(quotes.map((q) => exchange(46, q.body.quote_id)));
    expect(answers.filter((a) => a.status === 200)).toHaveLength(10);
    expect(answers.filter((a) => a.body.error?.code === "insufficient_funds")).toHaveLength(2);
    expect(await balanceIn(46, "USD")).toBe(0);
    expect(await balanceIn(46, "JPY")).toBe(10 * 151);
  });

  it("are the other side of the platform's position, and the ledger verifies per currency", async () => {
    const p = await call(s.url, "GET", "/admin/v1/fx/positions", { headers: admin });
    const position = (c: string) => p.body.positions.find((x: any) => x.currency === c).position;
    // the platform took in every euro sold and paid out every yen bought
    expect(position("EUR")).toBe(10_000);
    expect(position("JPY")).toBe(-(1512 + 756 + 151 + 1510));
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});
