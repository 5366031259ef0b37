/**
 * Holds over real HTTP on both engines: placing, capturing and voiding, with the
 * ledger verified after each test. The debits judged against the available balance,
 * who may act, idempotency and listing are in holds-access.test.ts; expiry and the
 * races in holds-expiry.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { holdsApi } from "./helpers/holds.js";
import { call, get, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let base: string;
let api: ReturnType<typeof holdsApi>;

beforeAll(async () => {
  s = await startTestServer({ TRANSFER_WORKERS: "1", HOLD_SWEEP_MS: "100" });
  base = s.url;
  api = holdsApi(base);
});
afterAll(() => s.stop());
afterEach(async () => {
  expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
});

const wallet = (balance: number) => api.wallet(balance);
const balances = (u: number) => api.balances(u);
const hold = (u: number, body: Record<string, unknown>, headers?: Record<string, string>) => api.hold(u, body, headers);
const capture = (u: number, id: string, body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  api.capture(u, id, body, headers);
const voidIt = (u: number, id: string, headers?: Record<string, string>) => api.voidIt(u, id, headers);

describe("placing a hold", () => {
  it("reserves the amount: available drops, balance does not", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const r = await hold(payer, { amount: 300, destination_user_id: dest, expires_in_seconds: 60 });
    expect(r.status).toBe(201);
    expect(r.body).toEqual({
      hold_id: expect.stringMatching(/^\d+$/),
      status: "held",
      amount: 300,
      currency: "USD",
      captured_amount: null,
      user_id: payer,
      destination_user_id: dest,
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      created_at: expect.any(String),
      reference: null,
      metadata: {},
      balance: 1000,
      available_balance: 700,
    });
    const expires = Date.parse(r.body.expires_at) - Date.parse(r.body.created_at);
    expect(expires).toBeGreaterThan(59_000);
    expect(expires).toBeLessThan(61_000);
    expect(await balances(payer)).toEqual({ currency: "USD", balance: 1000, available_balance: 700, credit_limit: 0 });
  });

  it("places a hold without a destination, for an hour by default", async () => {
    const payer = await wallet(1000);
    const noDest = await hold(payer, { amount: 100 });
    expect(noDest.body).toMatchObject({ destination_user_id: null, available_balance: 900 });
    const lifetime = Date.parse(noDest.body.expires_at) - Date.parse(noDest.body.created_at);
    expect(Math.round(lifetime / 1000)).toBe(3600);
  });

  /** A payer with 500, of which 400 held: 100 available. */
  async function mostlyHeld() {
    const payer = await wallet(500);
    await hold(payer, { amount: 400 });
    return payer;
  }

  it("refuses what the available balance cannot cover", async () => {
    const payer = await mostlyHeld();
    const more = await hold(payer, { amount: 101 });
    expect([more.status, more.body.error.code]).toEqual([422, "insufficient_funds"]);
    expect(await balances(payer)).toEqual({ currency: "USD", balance: 500, available_balance: 100, credit_limit: 0 });
  });

  it("refuses a hold to oneself", async () => {
    const payer = await mostlyHeld();
    const r = await hold(payer, { amount: 10, destination_user_id: payer });
    expect([r.status, r.body.error.code]).toEqual([422, "same_wallet"]);
    expect(await balances(payer)).toEqual({ currency: "USD", balance: 500, available_balance: 100, credit_limit: 0 });
  });

  it("refuses a destination that has no wallet", async () => {
    const payer = await mostlyHeld();
    const unknown = await hold(payer, { amount: 10, destination_user_id: 987654 });
    expect([unknown.status, unknown.body.error.code]).toEqual([404, "wallet_not_found"]);
    expect(await balances(payer)).toEqual({ currency: "USD", balance: 500, available_balance: 100, credit_limit: 0 });
  });

  it("refuses malformed input with 400", async () => {
    const payer = await mostlyHeld();
    for (const body of [
      { amount: 0 },
      { amount: 1.5 },
      { amount: 10, expires_in_seconds: 0 },
      { amount: 10, expires_in_seconds: 604_801 },
      { amount: 10, expires_in_seconds: 2.5 },
      { amount: 10, destination_user_id: -3 },
      { amount: 10, extra: true },
    ]) {
      const r = await hold(payer, body);
      expect(r.status, JSON.stringify(body)).toBe(400);
    }
    expect(await balances(payer)).toEqual({ currency: "USD", balance: 500, available_balance: 100, credit_limit: 0 });
  });
});

describe("capturing and voiding", () => {
  it("captures the whole hold into the destination, with entries that name the hold and the capture", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(50);
    const h = (await hold(payer, { amount: 400, destination_user_id: dest })).body;
    const c = await capture(dest, h.hold_id);
    expect(c.status).toBe(200);
    expect(c.body).toMatchObject({
      hold_id: h.hold_id,
      status: "captured",
      amount: 400,
      captured_amount: 400,
      balance: 600,
      available_balance: 600,
      transfer_id: expect.stringMatching(/^\d+$/),
    });
    expect(await balances(dest)).toEqual({ currency: "USD", balance: 450, available_balance: 450, credit_limit: 0 });
    const out = (await get(base, "/api/transactions/v1?type=3", payer)).body.transactions[0];
    expect(out).toMatchObject({ type: "transfer", direction: "out", amount: 400, hold_id: h.hold_id });
    expect(out.transfer_id).toBe(c.body.transfer_id);
    const inn = (await get(base, "/api/transactions/v1?type=3", dest)).body.transactions[0];
    expect(inn).toMatchObject({ direction: "in", amount: 400, hold_id: h.hold_id, transfer_id: c.body.transfer_id });
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, payer)).body.status).toBe("captured");
  });

  it("captures part of a hold and releases the rest", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 400, destination_user_id: dest })).body;
    const c = await capture(dest, h.hold_id, { amount: 150 });
    expect(c.body).toMatchObject({ captured_amount: 150, amount: 400, balance: 850, available_balance: 850 });
    expect(await balances(dest)).toEqual({ currency: "USD", balance: 150, available_balance: 150, credit_limit: 0 });
  });

  it("lets the payer capture a hold without a destination: the money leaves the system as a withdraw", async () => {
    const payer = await wallet(1000);
    const h = (await hold(payer, { amount: 250 })).body;
    const c = await capture(payer, h.hold_id, { amount: 200 });
    expect(c.body).toMatchObject({ status: "captured", captured_amount: 200, balance: 800, available_balance: 800 });
    expect(c.body.transaction_id).toMatch(/^\d+$/);
    const entry = (await get(base, "/api/transactions/v1", payer)).body.transactions[0];
    expect(entry).toMatchObject({ type: "withdraw", direction: "out", amount: 200, hold_id: h.hold_id });
    expect(entry.transfer_id).toBeNull();
  });

  it("voids: the amount is available again, the balance never moved", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 400, destination_user_id: dest })).body;
    const v = await voidIt(dest, h.hold_id);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ status: "voided", captured_amount: null, balance: 1000, available_balance: 1000 });
  });

  it("takes a void without a body at all", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 10, destination_user_id: dest })).body;
    const bare = await call(base, "POST", `/api/holds/v1/${h.hold_id}/void`, { user: dest });
    expect(bare.status).toBe(200);
    expect(bare.body).toMatchObject({ status: "voided", available_balance: 1000 });
  });

  /** How a hold stops being active: by a capture, a void, or its expiry. */
  const closers: Record<string, (payer: number, dest: number) => Promise<string>> = {
    captured: async (payer, dest) => {
      const id = (await hold(payer, { amount: 100, destination_user_id: dest })).body.hold_id;
      expect((await capture(dest, id)).status).toBe(200);
      return id;
    },
    voided: async (payer, dest) => {
      const id = (await hold(payer, { amount: 100, destination_user_id: dest })).body.hold_id;
      expect((await voidIt(dest, id)).status).toBe(200);
      return id;
    },
    expired: async (payer, dest) => {
      const id = (await hold(payer, { amount: 100, destination_user_id: dest, expires_in_seconds: 1 })).body.hold_id;
      await vi.waitFor(async () => expect((await api.read(payer, id)).status).toBe("expired"), {
        timeout: 10_000,
        interval: 50,
      });
      return id;
    },
  };

  it.each(Object.keys(closers))("answers 409 hold_not_active to a capture or void of a hold %s", async (how) => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const id = await closers[how]!(payer, dest);
    const before = await balances(payer);
    expect(before).toEqual(
      how === "captured"
        ? { currency: "USD", balance: 900, available_balance: 900, credit_limit: 0 }
        : { currency: "USD", balance: 1000, available_balance: 1000, credit_limit: 0 },
    );
    for (const r of [await capture(dest, id), await voidIt(dest, id)]) {
      expect([r.status, r.body.error.code]).toEqual([409, "hold_not_active"]);
    }
    expect(await balances(payer)).toEqual(before);
    expect((await api.read(payer, id)).status).toBe(how);
  });

  it("refuses a capture above the hold", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    const over = await capture(dest, h.hold_id, { amount: 101 });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe("amount_exceeds_hold");
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, dest)).body.status).toBe("held");
  });

  it("refuses a capture of a zero or malformed amount with 400", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    expect((await capture(dest, h.hold_id, { amount: 0 })).status).toBe(400);
    expect((await capture(dest, h.hold_id, { amount: "5" })).status).toBe(400);
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, dest)).body.status).toBe("held");
  });
});
