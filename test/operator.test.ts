/**
 * Operator actions over the admin API, on both engines: freezes (every debit refused,
 * credits and voids still work), reversals (whole, partial, concurrent, of every kind),
 * adjustments, the audit log the database keeps from being changed, statements and
 * past balances; and the admin API's own refusals. The ledger is verified after each.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { TransferWorkers } from "../src/core/worker.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "t".repeat(40);
const ADMIN = { authorization: `Bearer ${TOKEN}`, "x-actor": "ann" };
let s: TestServer;
let base: string;
let nextUser = 5000;

beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN: TOKEN });
  base = s.url;
});
afterAll(() => s.stop());
afterEach(async () => {
  expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
});

const admin = (method: "GET" | "POST", path: string, body?: unknown, headers: Record<string, string> = ADMIN) =>
  call(base, method, path, { body, headers });
async function wallet(balance: number): Promise<number> {
  const u = nextUser++;
  if (balance > 0) expect((await post(base, "/api/deposit/v1", u, { amount: balance })).status).toBe(200);
  else await get(base, "/api/wallet/balance/v1", u);
  return u;
}
const balanceOf = async (u: number) => (await get(base, "/api/wallet/balance/v1", u)).body.balance as number;
const auditCount = async () => (await admin("GET", "/admin/v1/audit?limit=1000")).body.entries.length as number;

describe("the admin API's door", () => {
  it("is closed (404) without ADMIN_TOKEN", async () => {
    const off = await startTestServer();
    try {
      for (const path of ["/admin/v1/audit", "/admin/v1/wallets/1", "/admin/v1/anything"]) {
        const r = await call(off.url, "GET", path, { headers: ADMIN });
        expect(r.status, path).toBe(404);
      }
    } finally {
      await off.stop();
    }
  });

  it("wants the admin token (401) and an X-Actor (400); a user's credentials never work there, nor the token on user routes", async () => {
    const u = await wallet(10);
    for (const authorization of [undefined, "Bearer wrong", String(u), `Bearer ${TOKEN}x`, TOKEN]) {
      const headers: Record<string, string> = { "x-actor": "ann" };
      if (authorization) headers.authorization = authorization;
      const r = await admin("GET", `/admin/v1/wallets/${u}`, undefined, headers);
      expect(r.status, String(authorization)).toBe(401);
      expect(r.body.error.code).toBe("unauthorized");
    }
    for (const actor of [undefined, "", "   "]) {
      const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
      if (actor !== undefined) headers["x-actor"] = actor;
      expect((await admin("GET", `/admin/v1/wallets/${u}`, undefined, headers)).status).toBe(400);
    }
    const asUser = await get(base, "/api/wallet/balance/v1", `Bearer ${TOKEN}`);
    expect(asUser.status).toBe(401);
  });

  it("answers 404 wallet_not_found for an unknown wallet, and 400 for bad bodies", async () => {
    for (const r of [
      await admin("GET", "/admin/v1/wallets/987654"),
      await admin("POST", "/admin/v1/wallets/987654/freeze", { reason: "x" }),
      await admin("POST", "/admin/v1/adjustments", { user_id: 987654, amount: 5, reason: "x" }),
    ]) {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("wallet_not_found");
    }
    expect((await get(base, "/api/wallet/balance/v1", 987654)).status).toBe(200); // opened only now, by its owner
    const u = await wallet(10);
    for (const [path, body] of [
      [`/admin/v1/wallets/${u}/freeze`, {}],
      [`/admin/v1/wallets/${u}/freeze`, { reason: "  " }],
      [`/admin/v1/wallets/${u}/freeze`, { reason: "x".repeat(501) }],
      ["/admin/v1/adjustments", { user_id: u, amount: 0, reason: "x" }],
      ["/admin/v1/adjustments", { user_id: u, amount: 1.5, reason: "x" }],
      ["/admin/v1/reversals", { transaction_id: "1", transfer_id: "2", reason: "x" }],
      ["/admin/v1/reversals", { reason: "x" }],
      ["/admin/v1/reversals", { transaction_id: "abc", reason: "x" }],
    ] as const) {
      expect((await admin("POST", path, body)).status, `${path} ${JSON.stringify(body)}`).toBe(400);
    }
    const unknown = await admin("POST", "/admin/v1/reversals", { transaction_id: "123456789", reason: "x" });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
  });
});

describe("freeze", () => {
  it("refuses every debit with wallet_frozen, still takes credits and voids, and unfreezing restores it", async () => {
    const u = await wallet(10_000);
    const other = await wallet(1000);
    const dest = await wallet(0);
    const held = (await post(base, "/api/holds/v1", u, { amount: 100, destination_user_id: dest })).body.hold_id;
    const toVoid = (await post(base, "/api/holds/v1", u, { amount: 100, destination_user_id: dest })).body.hold_id;
    const frozen = await admin("POST", `/admin/v1/wallets/${u}/freeze`, { reason: "chargeback #311" });
    expect(frozen.status).toBe(200);
    expect(frozen.body).toMatchObject({ user_id: u, frozen: true, frozen_reason: "chargeback #311", active_holds: 2 });
    for (const r of [
      await post(base, "/api/withdraw/v1", u, { amount: 1 }),
      await post(base, "/api/transfer/v1", u, { destination_user_id: other, amount: 1 }),
      await post(base, "/api/transfer/v2", u, { destination_user_id: other, amount: 1 }),
      await post(base, "/api/holds/v1", u, { amount: 1 }),
      await post(base, `/api/holds/v1/${held}/capture`, dest, {}),
    ]) {
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe("wallet_frozen");
    }
    expect((await post(base, "/api/deposit/v1", u, { amount: 5 })).status).toBe(200);
    expect((await post(base, "/api/transfer/v1", other, { destination_user_id: u, amount: 5 })).status).toBe(200);
    expect((await post(base, `/api/holds/v1/${toVoid}/void`, dest, {})).status).toBe(200);
    // the operator's own actions are not blocked
    expect((await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: -10, reason: "fee" })).status).toBe(200);
    // already frozen: a 200 that changes nothing
    const before = await auditCount();
    const again = await admin("POST", `/admin/v1/wallets/${u}/freeze`, { reason: "again" });
    expect(again.body).toMatchObject({ frozen: true, frozen_reason: "chargeback #311" });
    expect(await auditCount()).toBe(before);
    const thawed = await admin("POST", `/admin/v1/wallets/${u}/unfreeze`, { reason: "cleared" });
    expect(thawed.body).toMatchObject({ frozen: false, frozen_reason: null });
    expect((await post(base, "/api/withdraw/v1", u, { amount: 1 })).status).toBe(200);
    expect((await post(base, `/api/holds/v1/${held}/capture`, dest, {})).status).toBe(200);
  });

  it("fails a v2 transfer whose sender is frozen between acceptance and application", async () => {
    const u = await wallet(1000);
    const other = await wallet(0);
    const accepted = await post(base, "/api/transfer/v2", u, { destination_user_id: other, amount: 300 });
    expect(accepted.status).toBe(202);
    await admin("POST", `/admin/v1/wallets/${u}/freeze`, { reason: "review" });
    // the test server runs no workers: apply the queue now, by hand
    const workers = new TransferWorkers(s.services.ctx.db, { workers: 0, batchSize: 50, maxAttempts: 3 });
    await workers.step(50);
    const t = (await get(base, `/api/transfer/v2/${accepted.body.transfer_id}`, u)).body;
    expect(t).toMatchObject({ status: "failed", failure_reason: "wallet_frozen" });
    expect(await balanceOf(u)).toBe(1000);
  });
});

describe("reversals", () => {
  it("reverses deposits, withdrawals and transfers, whole or in part, never past the original", async () => {
    const u = await wallet(0);
    const d = (await post(base, "/api/deposit/v1", u, { amount: 1000 })).body.transaction_id;
    const w = (await post(base, "/api/withdraw/v1", u, { amount: 200 })).body.transaction_id;
    const r1 = await admin("POST", "/admin/v1/reversals", { transaction_id: d, amount: 300, reason: "bounced" });
    expect(r1.status).toBe(200);
    expect(r1.body).toMatchObject({ reverses: d, amount: 300, remaining: 700, kind: "deposit", from_user_id: u });
    expect(await balanceOf(u)).toBe(500);
    const r2 = await admin("POST", "/admin/v1/reversals", { transaction_id: w, reason: "refund" });
    expect(r2.body).toMatchObject({ amount: 200, remaining: 0, kind: "withdraw", to_user_id: u });
    expect(await balanceOf(u)).toBe(700);
    const more = await admin("POST", "/admin/v1/reversals", { transaction_id: w, amount: 1, reason: "again" });
    expect(more.status).toBe(422);
    expect(more.body.error.code).toBe("reversal_exceeds_original");
    const history = (await get(base, "/api/transactions/v1?type=4", u)).body.transactions;
    expect(history.map((e: { reverses: string }) => e.reverses)).toEqual([w, d]);
    // a reversal or an adjustment cannot itself be reversed
    const adj = (await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: 5, reason: "x" })).body;
    for (const id of [r1.body.reversal_id, adj.transaction_id]) {
      const r = await admin("POST", "/admin/v1/reversals", { transaction_id: id, reason: "no" });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe("not_reversible");
    }
  });

  it("moves a transfer's money back from the receiver, refused when the receiver lacks available funds", async () => {
    const a = await wallet(1000);
    const b = await wallet(0);
    const t = (await post(base, "/api/transfer/v1", a, { destination_user_id: b, amount: 400 })).body.transfer_id;
    await post(base, "/api/withdraw/v1", b, { amount: 350 });
    const poor = await admin("POST", "/admin/v1/reversals", { transfer_id: t, reason: "wrong payee" });
    expect(poor.status).toBe(422);
    expect(poor.body.error.code).toBe("insufficient_funds");
    const part = await admin("POST", "/admin/v1/reversals", { transfer_id: t, amount: 50, reason: "wrong payee" });
    expect(part.body).toMatchObject({ amount: 50, remaining: 350, kind: "transfer", from_user_id: b, to_user_id: a });
    expect([await balanceOf(a), await balanceOf(b)]).toEqual([650, 0]);
  });

  it("reverses a hold's capture by its transfer id", async () => {
    const a = await wallet(1000);
    const b = await wallet(0);
    const h = (await post(base, "/api/holds/v1", a, { amount: 300, destination_user_id: b })).body;
    const c = (await post(base, `/api/holds/v1/${h.hold_id}/capture`, b, { amount: 200 })).body;
    const r = await admin("POST", "/admin/v1/reversals", { transfer_id: c.transfer_id, reason: "goods returned" });
    expect(r.body).toMatchObject({ amount: 200, kind: "transfer", from_user_id: b, to_user_id: a });
    expect([await balanceOf(a), await balanceOf(b)]).toEqual([1000, 0]);
  });

  it("lets exactly the allowed ones of concurrent partial reversals succeed", async () => {
    const a = await wallet(10_000);
    const b = await wallet(0);
    const t = (await post(base, "/api/transfer/v1", a, { destination_user_id: b, amount: 1000 })).body.transfer_id;
    const results = await Promise.all(
      Array.from({ length: 12 }, () =>
        admin("POST", "/admin/v1/reversals", { transfer_id: t, amount: 300, reason: "x" }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(3);
    const refused = results.filter((r) => r.status !== 200);
    expect(refused.every((r) => r.body.error.code === "reversal_exceeds_original")).toBe(true);
    expect(await balanceOf(b)).toBe(100);
  });
});

describe("adjustments", () => {
  it("credits and debits with a reason; a debit cannot take available funds below 0", async () => {
    const u = await wallet(100);
    await post(base, "/api/holds/v1", u, { amount: 60 });
    const credit = await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: 25, reason: "goodwill" });
    expect(credit.body).toMatchObject({
      user_id: u,
      amount: 25,
      balance: 125,
      available_balance: 65,
      reason: "goodwill",
    });
    const over = await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: -66, reason: "fee" });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe("insufficient_funds");
    const debit = await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: -65, reason: "fee" });
    expect(debit.body).toMatchObject({ amount: -65, balance: 60, available_balance: 0 });
    const entry = (await get(base, "/api/transactions/v1?type=5", u)).body.transactions[0];
    expect(entry).toMatchObject({ type: "adjustment", direction: "out", amount: 65 });
  });

  it("replays an adjustment sent again with its Idempotency-Key", async () => {
    const u = await wallet(0);
    const headers = { ...ADMIN, "idempotency-key": `adj-${u}` };
    const first = await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: 40, reason: "x" }, headers);
    const again = await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: 40, reason: "x" }, headers);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await balanceOf(u)).toBe(40);
  });
});

describe("the audit log", () => {
  it("records each action with its actor, reason and details, pages oldest first, and skips refusals", async () => {
    const u = await wallet(100);
    const start = (await admin("GET", "/admin/v1/audit?limit=1000")).body.entries.at(-1)?.id as string | undefined;
    await admin("POST", `/admin/v1/wallets/${u}/freeze`, { reason: "why 1" }, { ...ADMIN, "x-actor": "bob" });
    await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: -1000, reason: "refused" });
    await admin("POST", "/admin/v1/adjustments", { user_id: u, amount: 7, reason: "why 2" });
    await admin("POST", `/admin/v1/wallets/${u}/unfreeze`, { reason: "why 3" });
    const page1 = (await admin("GET", `/admin/v1/audit?limit=2${start ? `&after=${start}` : ""}`)).body;
    expect(page1.entries.map((e: { action: string }) => e.action)).toEqual(["freeze", "adjustment"]);
    expect(page1.entries[0]).toMatchObject({ actor: "bob", target: `wallet:${u}`, reason: "why 1" });
    expect(page1.entries[1]).toMatchObject({ actor: "ann", details: { amount: 7 } });
    const page2 = (await admin("GET", `/admin/v1/audit?limit=2&after=${page1.next_after}`)).body;
    expect(page2.entries.map((e: { action: string }) => e.action)).toEqual(["unfreeze"]);
    expect(page2.next_after).toBeNull();
    expect((await admin("GET", "/admin/v1/audit?limit=1001")).status).toBe(400);
  });

  it("is refused UPDATE, DELETE and TRUNCATE by the database itself", async () => {
    const u = await wallet(0);
    await admin("POST", `/admin/v1/wallets/${u}/freeze`, { reason: "x" });
    const db = s.services.ctx.db;
    for (const statement of ["update audit_log set actor = 'mallory'", "delete from audit_log", "truncate audit_log"]) {
      await expect(db.query(statement), statement).rejects.toThrow(/append-only/);
    }
    expect(await auditCount()).toBeGreaterThan(0);
  });
});

describe("statements and past balances", () => {
  it("adds up (opening + in - out = closing) and answers a balance at an instant", async () => {
    const u = await wallet(1000);
    const other = await wallet(0);
    await new Promise((r) => setTimeout(r, 20));
    const from = new Date();
    await new Promise((r) => setTimeout(r, 20));
    await post(base, "/api/withdraw/v1", u, { amount: 100 });
    await post(base, "/api/transfer/v1", u, { destination_user_id: other, amount: 250 });
    await post(base, "/api/deposit/v1", u, { amount: 40 });
    await new Promise((r) => setTimeout(r, 20));
    const to = new Date();
    await post(base, "/api/deposit/v1", u, { amount: 5 }); // after the range
    const q = `from=${from.toISOString()}&to=${to.toISOString()}`;
    const st = (await get(base, `/api/statements/v1?${q}`, u)).body;
    expect(st).toMatchObject({ opening_balance: 1000, total_in: 40, total_out: 350, closing_balance: 690 });
    expect(st.entries.map((e: { type: string }) => e.type)).toEqual(["withdraw", "transfer", "deposit"]);
    expect((await get(base, `/api/wallet/balance/v1?at=${from.toISOString()}`, u)).body).toMatchObject({
      balance: 1000,
    });
    expect((await get(base, `/api/wallet/balance/v1?at=${to.toISOString()}`, u)).body.balance).toBe(690);
    expect((await get(base, "/api/wallet/balance/v1?at=2000-01-01T00:00:00Z", u)).body.balance).toBe(0);
    for (const bad of [
      `from=${to.toISOString()}&to=${from.toISOString()}`,
      "from=2025-01-01&to=2026-01-03",
      "from=yesterday&to=today",
      `from=${from.toISOString()}`,
    ]) {
      expect((await get(base, `/api/statements/v1?${bad}`, u)).status, bad).toBe(400);
    }
    expect((await get(base, "/api/wallet/balance/v1?at=soon", u)).status).toBe(400);
  });
});
