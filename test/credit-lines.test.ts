/**
 * Credit lines: available = balance + credit line - holds; the balance goes below 0
 * down to the line and not beyond, on parallel debits too; a line lowered below its use
 * blocks debits until repaid; balances, events, history and wallet verify agree.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { ADMIN_TOKEN, adminHeaders, creditLimit, deposit, limitsOf, withdraw } from "./helpers/limits.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
const balance = async (user: number, currency = "USD") =>
  (await get(s.url, `/api/wallet/balance/v1?currency=${currency}`, user)).body;

beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN, CURRENCIES: "USD,EUR" });
});
afterAll(() => s?.stop());

describe("a credit line", () => {
  it("is set by the operator (audited), answered with the inspect body, and carried by balance answers", async () => {
    await deposit(s, 1, 100);
    expect(await balance(1)).toMatchObject({ balance: 100, available_balance: 100, credit_limit: 0 });
    const r = await creditLimit(s, 1, 500);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({
      user_id: 1,
      balance: 100,
      available_balance: 600,
      credit_limit: 500,
      tier: "default",
    });
    expect(await balance(1)).toMatchObject({ balance: 100, available_balance: 600, credit_limit: 500 });
    const all = (await get(s.url, "/api/wallet/balances/v1", 1)).body.balances;
    expect(all).toContainEqual({
      currency: "USD",
      balance: 100,
      available_balance: 600,
      version: expect.any(Number),
      credit_limit: 500,
    });
    expect((await limitsOf(s, 1)).credit_limit).toBe(500);
    const audit = await call(s.url, "GET", "/admin/v1/audit?limit=1000", { headers: adminHeaders });
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({
        action: "credit_limit",
        target: "wallet:1",
        details: { currency: "USD", credit_limit: 500, previous: 0 },
      }),
    );
  });

  it("lets the balance go below 0 down to -line, and not beyond", async () => {
    expect((await withdraw(s, 1, 550)).body.balance).toBe(-450);
    expect((await withdraw(s, 1, 51)).body.error.code).toBe("insufficient_funds");
    expect((await withdraw(s, 1, 50)).body.balance).toBe(-500);
    expect(await balance(1)).toMatchObject({ balance: -500, available_balance: 0 });
    expect((await post(s.url, "/api/holds/v1", 1, { amount: 1 })).body.error.code).toBe("insufficient_funds");
  });

  it("holds parallel debits to the line: 20 of 100 against a line of 1000 on an empty wallet, exactly 10 pass", async () => {
    await deposit(s, 2, 1);
    await withdraw(s, 2, 1);
    await creditLimit(s, 2, 1000);
    const rs = await Promise.all(Array.from({ length: 20 }, () => withdraw(s, 2, 100)));
    expect(rs.filter((r) => r.status === 200)).toHaveLength(10);
    expect((await balance(2)).balance).toBe(-1000);
  });

  it("lowered below its use blocks debits until the wallet is back within it", async () => {
    const r = await creditLimit(s, 1, 200);
    expect(r.body).toMatchObject({ balance: -500, available_balance: -300, credit_limit: 200 });
    expect((await withdraw(s, 1, 1)).body.error.code).toBe("insufficient_funds");
    expect((await deposit(s, 1, 250)).body.balance).toBe(-250);
    expect((await withdraw(s, 1, 1)).body.error.code).toBe("insufficient_funds");
    expect((await deposit(s, 1, 150)).body.balance).toBe(-100);
    expect((await withdraw(s, 1, 100)).body.balance).toBe(-200);
    expect((await creditLimit(s, 1, 0)).body).toMatchObject({ credit_limit: 0, available_balance: -200 });
  });

  it("is an event with the new available balance; every event's available_balance_after counts the line", async () => {
    const events = (await get(s.url, "/api/events/v1?limit=500", 1)).body.events;
    const lines = events.filter((e: { type: string }) => e.type === "credit_limit");
    expect(lines.map((e: { data: { amount: number } }) => e.data.amount)).toEqual([500, 200, 0]);
    expect(lines[0].data).toMatchObject({
      balance_after: 100,
      available_balance_after: 600,
      reason: "business account",
    });
    const firstWithdraw = events.find((e: { type: string }) => e.type === "withdraw");
    expect(firstWithdraw.data).toMatchObject({ balance_after: -450, available_balance_after: 50 });
  });

  it("keeps the history's signed sum equal to the (negative) balance", async () => {
    const h = (await get(s.url, "/api/transactions/v1?page_size=100", 1)).body.transactions as Array<{
      direction: string;
      amount: number;
    }>;
    const sum = h.reduce((t, e) => t + (e.direction === "in" ? e.amount : -e.amount), 0);
    expect(sum).toBe((await balance(1)).balance);
    expect(sum).toBe(-200);
  });

  it("is per currency, and setting the same line again changes nothing", async () => {
    await deposit(s, 3, 1);
    const eur = await creditLimit(s, 3, 700, "EUR");
    expect(eur.body).toMatchObject({ currency: "EUR", credit_limit: 700, available_balance: 700 });
    expect(await balance(3)).toMatchObject({ credit_limit: 0, available_balance: 1 });
    const before = (await get(s.url, "/api/events/v1", 3)).body.events.length;
    expect((await creditLimit(s, 3, 700, "EUR")).status).toBe(200);
    expect((await get(s.url, "/api/events/v1", 3)).body.events.length).toBe(before);
    expect((await creditLimit(s, 999_999, 1)).body.error.code).toBe("wallet_not_found");
    expect((await creditLimit(s, 3, -1)).status).toBe(400);
  });

  it("lets a hold reserve the line and its capture take the balance down to -line", async () => {
    await deposit(s, 4, 1);
    await creditLimit(s, 4, 300);
    const h = await post(s.url, "/api/holds/v1", 4, { amount: 301, destination_user_id: 3 });
    expect(h.body.available_balance).toBe(0);
    const c = await post(s.url, `/api/holds/v1/${h.body.hold_id}/capture`, 3, {});
    expect(c.body).toMatchObject({ balance: -300, available_balance: 0 });
  });

  it("leaves wallet verify clean", async () => {
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});
