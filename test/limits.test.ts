/**
 * Tiers of limits, judged in the money functions under the user's lock: refusals with
 * details, the UTC day and month (the database's clock, moved back in the test),
 * holds giving back, what never counts, and parallel debits on one or two instances.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { freshDatabase } from "./helpers/db.js";
import { freePort } from "./helpers/privatePostgres.js";
import { engine } from "./helpers/env.js";
import {
  ADMIN_TOKEN,
  adminHeaders,
  ageCounters,
  assignTier,
  defineTier,
  deposit,
  limitsOf,
  used,
  withdraw,
} from "./helpers/limits.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
const tomorrow = () => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1)).toISOString();
};

beforeAll(async () => {
  s = await startTestServer({
    ADMIN_TOKEN,
    TRANSFER_WORKERS: "1",
    CURRENCIES: "USD,EUR",
    GRPC_PORT: String(await freePort()),
  });
  expect((await defineTier(s, "daily", { USD: { daily_debit_amount: 1000 } })).status).toBe(200);
});
afterAll(() => s?.stop());

/** A user with funds, in a tier. */
async function fundedIn(user: number, tier: string, funds = 100_000): Promise<void> {
  expect((await deposit(s, user, funds)).status).toBe(200);
  expect((await assignTier(s, user, tier)).status).toBe(200);
}

describe("tiers", () => {
  it("are defined, replaced whole, listed and audited", async () => {
    const limits = { USD: { max_debit: 500, daily_debit_count: 3 }, EUR: { max_balance: 10 } };
    const put = await defineTier(s, "basic", limits);
    expect(put.body).toEqual({ name: "basic", limits });
    expect((await defineTier(s, "basic", { USD: { max_debit: 700 } })).body.limits).toEqual({
      USD: { max_debit: 700 },
    });
    const list = await call(s.url, "GET", "/admin/v1/tiers", { headers: adminHeaders });
    expect(list.body.tiers).toContainEqual({ name: "basic", limits: { USD: { max_debit: 700 } } });
    expect(list.body.tiers).toContainEqual({ name: "default", limits: {} });
    const audit = await call(s.url, "GET", "/admin/v1/audit?limit=1000", { headers: adminHeaders });
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({ action: "tier_definition", target: "tier:basic", actor: "risk" }),
    );
  });

  it("refuse a bad name, an unknown limit or a negative one (400) and an unaccepted currency (422)", async () => {
    expect((await defineTier(s, "Bad Name", {})).status).toBe(400);
    expect((await defineTier(s, "x", { USD: { weekly: 1 } })).status).toBe(400);
    expect((await defineTier(s, "x", { USD: { max_debit: -1 } })).status).toBe(400);
    expect((await defineTier(s, "x", { usd: { max_debit: 1 } })).status).toBe(400);
    expect((await defineTier(s, "x", { GBP: { max_debit: 1 } })).body.error.code).toBe("currency_not_supported");
  });

  it("are assigned with an audit entry; an unknown tier is 404 not_found, an unknown wallet 404", async () => {
    await deposit(s, 10, 1);
    const r = await assignTier(s, 10, "basic");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ user_id: 10, tier: "basic", credit_limit: 0, balance: 1 });
    expect((await assignTier(s, 10, "nope")).body.error.code).toBe("not_found");
    expect((await assignTier(s, 999_999, "basic")).body.error.code).toBe("wallet_not_found");
    const audit = await call(s.url, "GET", "/admin/v1/audit?limit=1000", { headers: adminHeaders });
    expect(audit.body.entries).toContainEqual(
      expect.objectContaining({ action: "tier", target: "wallet:10", reason: "kyc", details: expect.anything() }),
    );
  });
});

describe("debits", () => {
  it("past max_debit are refused with 422 limit_exceeded and details, and nothing changes", async () => {
    await defineTier(s, "small", { USD: { max_debit: 300, daily_debit_amount: 250 } });
    await fundedIn(11, "small");
    const r = await withdraw(s, 11, 301);
    expect(r.status).toBe(422);
    // several limits passed: the first in the contract's order is named
    expect(r.body.error).toMatchObject({
      code: "limit_exceeded",
      details: { limit: "max_debit", remaining: 300, resets_at: null },
    });
    const day = await withdraw(s, 11, 260);
    expect(day.body.error.details).toEqual({ limit: "daily_debit_amount", remaining: 250, resets_at: tomorrow() });
    expect((await get(s.url, "/api/wallet/balance/v1", 11)).body.balance).toBe(100_000);
  });

  it("keep the details in an idempotent replay", async () => {
    const key = { "idempotency-key": "limit-replay" };
    const first = await withdraw(s, 11, 301, key);
    const again = await withdraw(s, 11, 301, key);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
  });

  it("count transfers, holds and exchanges; count limits by debit; show where the user stands", async () => {
    await defineTier(s, "count", { USD: { daily_debit_count: 4, monthly_debit_amount: 10_000 } });
    await fundedIn(12, "count");
    await deposit(s, 13, 1);
    const rate = { headers: adminHeaders, body: { rate: "0.9" } };
    expect((await call(s.url, "PUT", "/admin/v1/fx/rates/USD/EUR", rate)).status).toBe(200);
    const q = await post(s.url, "/api/fx/quotes/v1", 12, { from_currency: "USD", to_currency: "EUR", amount: 100 });
    expect((await post(s.url, "/api/fx/exchanges/v1", 12, { quote_id: q.body.quote_id })).status).toBe(200);
    expect((await post(s.url, "/api/transfer/v1", 12, { destination_user_id: 13, amount: 100 })).status).toBe(200);
    expect((await post(s.url, "/api/holds/v1", 12, { amount: 200 })).status).toBe(201);
    expect((await withdraw(s, 12, 300)).status).toBe(200);
    const r = await withdraw(s, 12, 1);
    expect(r.body.error.details).toMatchObject({ limit: "daily_debit_count", remaining: 0 });
    const l = await limitsOf(s, 12);
    expect(l).toMatchObject({ tier: "count", currency: "USD", credit_limit: 0 });
    expect(l.limits).toEqual([
      { name: "daily_debit_count", limit: 4, used: 4, remaining: 0, resets_at: tomorrow() },
      {
        name: "monthly_debit_amount",
        limit: 10_000,
        used: 700,
        remaining: 9300,
        resets_at: expect.stringMatching(/^\d{4}-\d{2}-01T00:00:00\.000Z$/),
      },
    ]);
  });

  it("count nothing of an operator's reversal or adjustment, and never refuse one", async () => {
    await defineTier(s, "tight", { USD: { daily_debit_amount: 10, max_debit: 10 } });
    await fundedIn(14, "tight", 1000);
    const adj = await call(s.url, "POST", "/admin/v1/adjustments", {
      headers: adminHeaders,
      body: { user_id: 14, amount: -500, reason: "fee" },
    });
    expect(adj.status).toBe(200);
    const dep = await deposit(s, 14, 100);
    const rev = await call(s.url, "POST", "/admin/v1/reversals", {
      headers: adminHeaders,
      body: { transaction_id: dep.body.transaction_id, reason: "chargeback" },
    });
    expect(rev.status).toBe(200);
    expect(await used(s, 14, "daily_debit_amount")).toBe(0);
    expect((await withdraw(s, 14, 10)).status).toBe(200);
  });
});

describe("holds", () => {
  it("give their amount and count back to the day when voided or expired; a capture counts what it moved", async () => {
    await defineTier(s, "holds", { USD: { daily_debit_amount: 1000, daily_debit_count: 10 } });
    await fundedIn(20, "holds");
    const h = await post(s.url, "/api/holds/v1", 20, { amount: 600 });
    expect(await used(s, 20, "daily_debit_amount")).toBe(600);
    expect((await withdraw(s, 20, 500)).body.error.details.limit).toBe("daily_debit_amount");
    expect((await post(s.url, `/api/holds/v1/${h.body.hold_id}/void`, 20, {})).status).toBe(200);
    expect(await used(s, 20, "daily_debit_amount")).toBe(0);
    expect(await used(s, 20, "daily_debit_count")).toBe(0);
    expect((await withdraw(s, 20, 500)).status).toBe(200);

    const c = await post(s.url, "/api/holds/v1", 20, { amount: 400 });
    await post(s.url, `/api/holds/v1/${c.body.hold_id}/capture`, 20, { amount: 150 });
    expect(await used(s, 20, "daily_debit_amount")).toBe(650);
    expect(await used(s, 20, "daily_debit_count")).toBe(2);

    const e = await post(s.url, "/api/holds/v1", 20, { amount: 300 });
    expect(await used(s, 20, "daily_debit_amount")).toBe(950);
    await s.services.ctx.db.query("update holds set expires_at = now() - interval '1 second' where id = $1", [
      e.body.hold_id,
    ]);
    await s.services.ctx.db.query("update wallets set hold_expiry = now() - interval '1 second' where user_id = 20");
    expect((await withdraw(s, 20, 350)).status).toBe(200); // the lock releases the expired hold first
    expect(await used(s, 20, "daily_debit_amount")).toBe(1000);
  });

  it("placed on an earlier day give nothing back to today when voided (today never counted them)", async () => {
    await fundedIn(21, "holds");
    const h = await post(s.url, "/api/holds/v1", 21, { amount: 700 });
    await ageCounters(s, 21, 1, true);
    expect(await used(s, 21, "daily_debit_amount")).toBe(0);
    expect((await withdraw(s, 21, 200)).status).toBe(200);
    await post(s.url, `/api/holds/v1/${h.body.hold_id}/void`, 21, {});
    expect(await used(s, 21, "daily_debit_amount")).toBe(200);
  });
});

describe("days and months (UTC, the database's clock)", () => {
  it("start afresh: yesterday's use does not count today, last month's not this month", async () => {
    await defineTier(s, "monthly", { USD: { daily_debit_amount: 1000, monthly_debit_amount: 1500 } });
    await fundedIn(30, "monthly");
    expect((await withdraw(s, 30, 1000)).status).toBe(200);
    expect((await withdraw(s, 30, 1)).body.error.details.limit).toBe("daily_debit_amount");
    await ageCounters(s, 30, 1);
    const l = await limitsOf(s, 30);
    expect(l.limits.find((x: { name: string }) => x.name === "daily_debit_amount").used).toBe(0);
    if (new Date().getUTCDate() > 1) {
      // still this month: the month's use stands
      expect((await withdraw(s, 30, 600)).body.error.details).toMatchObject({
        limit: "monthly_debit_amount",
        remaining: 500,
      });
    }
    await ageCounters(s, 30, 40);
    expect(await used(s, 30, "monthly_debit_amount")).toBe(0);
    expect((await withdraw(s, 30, 1000)).status).toBe(200);
  });
});

describe("max_balance", () => {
  it("refuses deposits and transfers in (the sender sees it) and fails a v2 transfer", async () => {
    await defineTier(s, "capped", { USD: { max_balance: 1000 } });
    await deposit(s, 40, 900);
    await assignTier(s, 40, "capped");
    const d = await deposit(s, 40, 101);
    expect(d.body.error).toMatchObject({
      code: "limit_exceeded",
      details: { limit: "max_balance", remaining: 100, resets_at: null },
    });
    await deposit(s, 41, 5000);
    const t = await post(s.url, "/api/transfer/v1", 41, { destination_user_id: 40, amount: 200 });
    expect(t.status).toBe(422);
    expect(t.body.error.details).toMatchObject({ limit: "max_balance", remaining: 100 });
    const v2 = await post(s.url, "/api/transfer/v2", 41, { destination_user_id: 40, amount: 200 });
    expect(v2.status).toBe(202);
    let status;
    for (let i = 0; i < 100; i++) {
      status = (await get(s.url, `/api/transfer/v2/${v2.body.transfer_id}`, 41)).body;
      if (status.status !== "pending") break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toMatchObject({ status: "failed", failure_reason: "limit_exceeded" });
    expect((await post(s.url, "/api/transfer/v1", 41, { destination_user_id: 40, amount: 100 })).status).toBe(200);
    expect((await get(s.url, "/api/wallet/balance/v1", 40)).body.balance).toBe(1000);
  });

  it("refuses a capture into a wallet it would pass, and leaves the hold held", async () => {
    await deposit(s, 42, 990);
    await assignTier(s, 42, "capped");
    const h = await post(s.url, "/api/holds/v1", 41, { amount: 20, destination_user_id: 42 });
    const c = await post(s.url, `/api/holds/v1/${h.body.hold_id}/capture`, 42, {});
    expect(c.body.error).toMatchObject({ code: "limit_exceeded", details: { limit: "max_balance", remaining: 10 } });
    expect((await post(s.url, `/api/holds/v1/${h.body.hold_id}/capture`, 42, { amount: 10 })).status).toBe(200);
  });
});

describe("over gRPC", () => {
  it("GetLimits answers as GET /api/limits/v1; a refusal carries its details in trailing metadata", async () => {
    const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any;
    const c = new pkg.wallet.v1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
    const md = () => {
      const m = new grpc.Metadata();
      m.set("authorization", "11");
      return m;
    };
    try {
      const limits = await new Promise<any>((ok, fail) =>
        c.GetLimits({}, md(), (e: Error | null, v: unknown) => (e ? fail(e) : ok(v))),
      );
      const http = await limitsOf(s, 11);
      expect({
        ...limits,
        limits: limits.limits.map((l: any) => ({ ...l, resets_at: l.resets_at ?? null })),
      }).toEqual(http);
      const err = await new Promise<grpc.ServiceError>((ok) => c.Withdraw({ amount: 301 }, md(), (e: any) => ok(e)));
      expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
      expect(err.metadata.get("wallet-error-code")).toEqual(["limit_exceeded"]);
      expect(JSON.parse(err.metadata.get("wallet-error-details")[0] as string)).toEqual({
        limit: "max_debit",
        remaining: 300,
        resets_at: null,
      });
      const balance = await new Promise<any>((ok) => c.GetBalance({}, md(), (_e: unknown, v: unknown) => ok(v)));
      expect(balance).toEqual((await get(s.url, "/api/wallet/balance/v1", 11)).body);
    } finally {
      c.close();
    }
  });
});

describe("under concurrency", () => {
  it("20 parallel withdrawals against a daily amount that admits 10: exactly 10 pass", async () => {
    await fundedIn(50, "daily");
    const rs = await Promise.all(Array.from({ length: 20 }, () => withdraw(s, 50, 100)));
    expect(rs.filter((r) => r.status === 200)).toHaveLength(10);
    expect(rs.filter((r) => r.body?.error?.code === "limit_exceeded")).toHaveLength(10);
    expect(await used(s, 50, "daily_debit_amount")).toBe(1000);
    expect((await get(s.url, "/api/wallet/balance/v1", 50)).body.balance).toBe(99_000);
  });

  it.skipIf(engine !== "pg")("the same across two instances on one database", async () => {
    const db = await freshDatabase();
    const a = await startTestServer({ ADMIN_TOKEN }, db);
    const b = await startTestServer({ ADMIN_TOKEN }, db);
    try {
      await defineTier(a, "daily", { USD: { daily_debit_amount: 1000 } });
      await deposit(a, 1, 100_000);
      await assignTier(a, 1, "daily");
      const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => withdraw(i % 2 ? a : b, 1, 100)));
      expect(rs.filter((r) => r.status === 200)).toHaveLength(10);
      expect(rs.filter((r) => r.body?.error?.code === "limit_exceeded")).toHaveLength(10);
      expect((await verifyLedger(a.services.ctx)).violations).toEqual([]);
    } finally {
      await a.stop();
      await b.stop();
      await db.drop();
    }
  });

  it("leave wallet verify clean", async () => {
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});
