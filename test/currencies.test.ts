/** A wallet per (user, currency): codes, minor units, the default currency, transfers within a currency. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({ CURRENCIES: "USD,EUR,JPY,BHD", ADMIN_TOKEN: "a".repeat(40) });
});
afterAll(() => s?.stop());

const balance = (user: number, currency?: string) =>
  get(s.url, `/api/wallet/balance/v1${currency ? `?currency=${currency}` : ""}`, user);

describe("currency codes", () => {
  it.each(["usd", "US", "XYZ1", "XYZ", "12"])("refuses %s as a malformed or unknown code with 400", async (code) => {
    const r = await post(s.url, "/api/deposit/v1", 1, { amount: 100, currency: code });
    expect(r.status).toBe(400);
    expect(r.body.error.code).toBe("invalid_request");
  });

  it("refuses a number as a currency with 400", async () => {
    const r = await post(s.url, "/api/deposit/v1", 1, { amount: 100, currency: 840 });
    expect(r.status).toBe(400);
  });

  it("refuses an active code outside CURRENCIES with 422 currency_not_supported, changing nothing", async () => {
    const r = await post(s.url, "/api/deposit/v1", 2, { amount: 100, currency: "GBP" });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("currency_not_supported");
    expect((await get(s.url, "/api/wallet/balances/v1", 2)).body.balances.map((b: any) => b.currency)).toEqual(["USD"]);
  });

  it("refuses an unsupported currency in a query with 422", async () => {
    expect((await balance(2, "GBP")).status).toBe(422);
    expect((await get(s.url, "/api/transactions/v1?currency=CHF", 2)).body.error.code).toBe("currency_not_supported");
  });
});

describe("the default currency", () => {
  it("is the currency of a request that names none", async () => {
    const r = await post(s.url, "/api/deposit/v1", 3, { amount: 1170 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ balance: 1170, transaction_id: expect.any(String), currency: "USD" });
    expect((await balance(3)).body).toEqual({
      currency: "USD",
      balance: 1170,
      available_balance: 1170,
      version: 1,
      credit_limit: 0,
    });
    expect((await balance(3, "USD")).body.balance).toBe(1170);
  });

  it("keeps other currencies apart from it", async () => {
    await post(s.url, "/api/deposit/v1", 4, { amount: 500 });
    await post(s.url, "/api/deposit/v1", 4, { amount: 300, currency: "EUR" });
    expect((await balance(4)).body.balance).toBe(500);
    expect((await balance(4, "EUR")).body).toEqual({
      currency: "EUR",
      balance: 300,
      available_balance: 300,
      version: 1,
      credit_limit: 0,
    });
  });
});

describe("minor units", () => {
  it("takes JPY amounts as whole yen and BHD amounts as fils", async () => {
    expect((await post(s.url, "/api/deposit/v1", 5, { amount: 1500, currency: "JPY" })).body.balance).toBe(1500);
    expect((await post(s.url, "/api/deposit/v1", 5, { amount: 1234, currency: "BHD" })).body.balance).toBe(1234);
    expect((await post(s.url, "/api/withdraw/v1", 5, { amount: 1, currency: "BHD" })).body.balance).toBe(1233);
  });

  it("keeps the amount rules: a fraction of a minor unit is 400", async () => {
    expect((await post(s.url, "/api/deposit/v1", 5, { amount: 1.5, currency: "JPY" })).status).toBe(400);
  });
});

describe("balances", () => {
  it("lists every currency the user has a wallet in, sorted by code, the default always", async () => {
    await post(s.url, "/api/deposit/v1", 6, { amount: 7, currency: "JPY" });
    await post(s.url, "/api/deposit/v1", 6, { amount: 9, currency: "EUR" });
    const r = await get(s.url, "/api/wallet/balances/v1", 6);
    expect(r.body).toEqual({
      balances: [
        { currency: "EUR", balance: 9, available_balance: 9, version: 1, credit_limit: 0 },
        { currency: "JPY", balance: 7, available_balance: 7, version: 1, credit_limit: 0 },
        { currency: "USD", balance: 0, available_balance: 0, version: 0, credit_limit: 0 },
      ],
    });
  });

  it("answers 0 and an empty history in a currency never used, opening no wallet in it", async () => {
    expect((await balance(7, "BHD")).body).toEqual({
      currency: "BHD",
      balance: 0,
      available_balance: 0,
      version: 0,
      credit_limit: 0,
    });
    expect((await get(s.url, "/api/transactions/v1?currency=BHD", 7)).body.transactions).toEqual([]);
    expect((await get(s.url, "/api/wallet/balances/v1", 7)).body.balances.map((b: any) => b.currency)).toEqual(["USD"]);
  });
});

describe("transfers", () => {
  it("move money within one currency and open the receiver's wallet in it on the credit", async () => {
    await post(s.url, "/api/deposit/v1", 10, { amount: 1000, currency: "EUR" });
    await get(s.url, "/api/wallet/balance/v1", 11); // user 11 is seen (default currency only)
    const r = await post(s.url, "/api/transfer/v1", 10, { destination_user_id: 11, amount: 250, currency: "EUR" });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ success: true, balance: 750, currency: "EUR" });
    expect((await balance(11, "EUR")).body.balance).toBe(250);
    expect((await balance(11)).body.balance).toBe(0);
  });

  it("judge funds in the transfer's currency alone", async () => {
    await post(s.url, "/api/deposit/v1", 12, { amount: 1000 });
    await get(s.url, "/api/wallet/balance/v1", 13);
    const r = await post(s.url, "/api/transfer/v1", 12, { destination_user_id: 13, amount: 1, currency: "EUR" });
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe("insufficient_funds");
  });

  it("refuse a receiver never seen in any currency with 404 wallet_not_found", async () => {
    await post(s.url, "/api/deposit/v1", 14, { amount: 100, currency: "EUR" });
    const r = await post(s.url, "/api/transfer/v1", 14, { destination_user_id: 999_999, amount: 1, currency: "EUR" });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("wallet_not_found");
  });

  it("carry the currency in history entries and the v2 status", async () => {
    await post(s.url, "/api/deposit/v1", 15, { amount: 100, currency: "JPY" });
    await get(s.url, "/api/wallet/balance/v1", 16);
    const v2 = await post(s.url, "/api/transfer/v2", 15, { destination_user_id: 16, amount: 5, currency: "JPY" });
    expect(v2.status).toBe(202);
    const st = await get(s.url, `/api/transfer/v2/${v2.body.transfer_id}`, 15);
    expect(st.body).toMatchObject({ currency: "JPY", amount: 5 });
    const h = await get(s.url, "/api/transactions/v1?currency=JPY", 15);
    expect(h.body.transactions).toEqual([expect.objectContaining({ type: "deposit", currency: "JPY", amount: 100 })]);
  });

  it("place holds in a currency, judged against that wallet's available balance", async () => {
    await post(s.url, "/api/deposit/v1", 17, { amount: 100, currency: "EUR" });
    const refused = await post(s.url, "/api/holds/v1", 17, { amount: 101, currency: "EUR" });
    expect(refused.body.error.code).toBe("insufficient_funds");
    const held = await post(s.url, "/api/holds/v1", 17, { amount: 60, currency: "EUR" });
    expect(held.status).toBe(201);
    expect(held.body).toMatchObject({ currency: "EUR", available_balance: 40, balance: 100 });
    expect((await balance(17, "EUR")).body.available_balance).toBe(40);
  });
});

describe("operators", () => {
  const admin = { authorization: `Bearer ${"a".repeat(40)}`, "x-actor": "ops" };

  it("adjust a wallet in a currency and inspect it", async () => {
    await get(s.url, "/api/wallet/balance/v1", 20);
    const adj = await call(s.url, "POST", "/admin/v1/adjustments", {
      headers: admin,
      body: { user_id: 20, amount: 300, currency: "EUR", reason: "goodwill" },
    });
    expect(adj.status).toBe(200);
    expect(adj.body).toMatchObject({ currency: "EUR", balance: 300, amount: 300 });
    const w = await call(s.url, "GET", "/admin/v1/wallets/20?currency=EUR", { headers: admin });
    expect(w.body).toMatchObject({ user_id: 20, currency: "EUR", balance: 300 });
  });

  it("freeze every currency of a user", async () => {
    await post(s.url, "/api/deposit/v1", 21, { amount: 50, currency: "EUR" });
    await call(s.url, "POST", "/admin/v1/wallets/21/freeze", { headers: admin, body: { reason: "check" } });
    const r = await post(s.url, "/api/withdraw/v1", 21, { amount: 1, currency: "EUR" });
    expect(r.body.error.code).toBe("wallet_frozen");
  });

  it("leave a ledger that verifies, per currency", async () => {
    const report = await verifyLedger(s.services.ctx);
    expect(report.violations).toEqual([]);
  });
});
