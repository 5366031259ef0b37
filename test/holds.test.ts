/**
 * Holds over real HTTP on both engines: every rule of two-phase payments, the
 * available balance every debit is judged against, expiry judged at each action, and
 * the races (capture against void, capture at the moment of expiry, many holds on one
 * wallet), with the ledger verified after each test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let base: string;
let nextUser = 1000;

beforeAll(async () => {
  s = await startTestServer({ TRANSFER_WORKERS: "1", HOLD_SWEEP_MS: "100" });
  base = s.url;
});
afterAll(() => s.stop());
afterEach(async () => {
  expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
});

/** A fresh wallet with this balance. */
async function wallet(balance: number): Promise<number> {
  const u = nextUser++;
  if (balance > 0) expect((await post(base, "/api/deposit/v1", u, { amount: balance })).status).toBe(200);
  else await get(base, "/api/wallet/balance/v1", u);
  return u;
}
const balances = async (u: number) => (await get(base, "/api/wallet/balance/v1", u)).body;
const hold = (u: number, body: Record<string, unknown>, headers?: Record<string, string>) =>
  post(base, "/api/holds/v1", u, body, headers);
const capture = (u: number, id: string, body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
  post(base, `/api/holds/v1/${id}/capture`, u, body, headers);
const voidIt = (u: number, id: string, headers?: Record<string, string>) =>
  post(base, `/api/holds/v1/${id}/void`, u, {}, headers);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
      captured_amount: null,
      user_id: payer,
      destination_user_id: dest,
      expires_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      created_at: expect.any(String),
      balance: 1000,
      available_balance: 700,
    });
    const expires = Date.parse(r.body.expires_at) - Date.parse(r.body.created_at);
    expect(expires).toBeGreaterThan(59_000);
    expect(expires).toBeLessThan(61_000);
    expect(await balances(payer)).toEqual({ balance: 1000, available_balance: 700 });
    const noDest = await hold(payer, { amount: 100 });
    expect(noDest.body).toMatchObject({ destination_user_id: null, available_balance: 600 });
    const lifetime = Date.parse(noDest.body.expires_at) - Date.parse(noDest.body.created_at);
    expect(Math.round(lifetime / 1000)).toBe(3600); // the default
  });

  it("refuses what the available balance cannot cover, oneself, an unknown destination and bad input", async () => {
    const payer = await wallet(500);
    await hold(payer, { amount: 400 });
    const more = await hold(payer, { amount: 101 });
    expect(more.status).toBe(422);
    expect(more.body.error.code).toBe("insufficient_funds");
    expect((await hold(payer, { amount: 10, destination_user_id: payer })).body.error.code).toBe("same_wallet");
    const unknown = await hold(payer, { amount: 10, destination_user_id: 987654 });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("wallet_not_found");
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
    expect(await balances(payer)).toEqual({ balance: 500, available_balance: 100 });
  });
});

describe("debits are judged against the available balance", () => {
  it("withdraw, transfer v1, and a v2 transfer when it is applied", async () => {
    const payer = await wallet(1000);
    const other = await wallet(0);
    await hold(payer, { amount: 800 });
    expect((await post(base, "/api/withdraw/v1", payer, { amount: 201 })).body.error.code).toBe("insufficient_funds");
    const t = await post(base, "/api/transfer/v1", payer, { destination_user_id: other, amount: 201 });
    expect(t.body.error.code).toBe("insufficient_funds");
    const v2 = await post(base, "/api/transfer/v2", payer, { destination_user_id: other, amount: 300 });
    expect(v2.status).toBe(202);
    let status;
    for (let i = 0; i < 100; i++) {
      status = (await get(base, `/api/transfer/v2/${v2.body.transfer_id}`, payer)).body;
      if (status.status !== "pending") break;
      await sleep(20);
    }
    expect(status).toMatchObject({ status: "failed", failure_reason: "insufficient_funds" });
    expect((await post(base, "/api/withdraw/v1", payer, { amount: 200 })).status).toBe(200);
    expect(await balances(payer)).toEqual({ balance: 800, available_balance: 0 });
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
    expect(await balances(dest)).toEqual({ balance: 450, available_balance: 450 });
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
    expect(await balances(dest)).toEqual({ balance: 150, available_balance: 150 });
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

  it("voids: the amount is available again and the balance never moved", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 400, destination_user_id: dest })).body;
    const v = await voidIt(dest, h.hold_id);
    expect(v.status).toBe(200);
    expect(v.body).toMatchObject({ status: "voided", captured_amount: null, balance: 1000, available_balance: 1000 });
    // a void without a body at all is the same request
    const h2 = (await hold(payer, { amount: 10, destination_user_id: dest })).body;
    const bare = await call(base, "POST", `/api/holds/v1/${h2.hold_id}/void`, { user: dest });
    expect(bare.status).toBe(200);
  });

  it("answers 409 hold_not_active for a hold that is captured, voided or expired, and changes nothing", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const a = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    await capture(dest, a.hold_id);
    const b = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    await voidIt(dest, b.hold_id);
    const c = (await hold(payer, { amount: 100, destination_user_id: dest, expires_in_seconds: 1 })).body;
    await sleep(1100);
    const before = await balances(payer);
    for (const id of [a.hold_id, b.hold_id, c.hold_id]) {
      for (const r of [await capture(dest, id), await voidIt(dest, id)]) {
        expect(r.status).toBe(409);
        expect(r.body.error.code).toBe("hold_not_active");
      }
    }
    expect(await balances(payer)).toEqual(before);
    expect(before).toEqual({ balance: 900, available_balance: 900 });
  });

  it("refuses a capture above the hold, and a zero or malformed amount", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const h = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    const over = await capture(dest, h.hold_id, { amount: 101 });
    expect(over.status).toBe(422);
    expect(over.body.error.code).toBe("amount_exceeds_hold");
    expect((await capture(dest, h.hold_id, { amount: 0 })).status).toBe(400);
    expect((await capture(dest, h.hold_id, { amount: "5" })).status).toBe(400);
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, dest)).body.status).toBe("held");
  });
});

describe("who may act on a hold", () => {
  it("the destination acts, the payer may read but not act (403), anyone else gets 404", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const stranger = await wallet(0);
    const h = (await hold(payer, { amount: 100, destination_user_id: dest })).body;
    for (const r of [await capture(payer, h.hold_id), await voidIt(payer, h.hold_id)]) {
      expect(r.status).toBe(403);
      expect(r.body.error.code).toBe("forbidden");
    }
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, payer)).status).toBe(200);
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, dest)).status).toBe(200);
    for (const r of [
      await capture(stranger, h.hold_id),
      await voidIt(stranger, h.hold_id),
      await get(base, `/api/holds/v1/${h.hold_id}`, stranger),
      await get(base, "/api/holds/v1/123", payer),
      await get(base, "/api/holds/v1/not-an-id", payer),
      await capture(dest, "99999999999999999999"),
    ]) {
      expect(r.status).toBe(404);
      expect(r.body.error.code).toBe("not_found");
    }
    // without a destination, the payer acts, and the destination's rule does not apply
    const own = (await hold(payer, { amount: 50 })).body;
    expect((await capture(dest, own.hold_id)).status).toBe(404);
    expect((await voidIt(payer, own.hold_id)).status).toBe(200);
  });
});

describe("expiry", () => {
  it("is judged at the action, marked in the background, and lists as expired", async () => {
    const payer = await wallet(1000);
    const h = (await hold(payer, { amount: 600, expires_in_seconds: 1 })).body;
    expect((await balances(payer)).available_balance).toBe(400);
    await sleep(1050);
    // available again at once, before or after the marker
    expect(await balances(payer)).toEqual({ balance: 1000, available_balance: 1000 });
    expect((await get(base, `/api/holds/v1/${h.hold_id}`, payer)).body.status).toBe("expired");
    expect((await post(base, "/api/withdraw/v1", payer, { amount: 1000 })).status).toBe(200);
    const listed = (await get(base, "/api/holds/v1?status=expired", payer)).body;
    expect(listed.holds.map((x: { hold_id: string }) => x.hold_id)).toEqual([h.hold_id]);
    expect((await get(base, "/api/holds/v1?status=held", payer)).body.holds).toEqual([]);
  });

  it("a capture at the moment of expiry moves the money exactly once or not at all", async () => {
    const payer = await wallet(100_000);
    const dest = await wallet(0);
    let moved = 0;
    let captured = 0;
    let refused = 0;
    for (let round = 0; round < 8; round++) {
      const h = (await hold(payer, { amount: 1000, destination_user_id: dest, expires_in_seconds: 1 })).body;
      const at = Date.parse(h.expires_at);
      await sleep(Math.max(0, at - Date.now() - 30 + round * 8)); // around the instant, either side
      const r = await capture(dest, h.hold_id);
      if (r.status === 200) {
        captured++;
        moved += r.body.captured_amount;
      } else {
        expect(r.body.error.code).toBe("hold_not_active");
        refused++;
      }
    }
    expect(captured + refused).toBe(8);
    expect(await balances(dest)).toEqual({ balance: moved, available_balance: moved });
    expect((await balances(payer)).balance).toBe(100_000 - moved);
  });
});

describe("races", () => {
  it("a capture and a void of one hold at once: exactly one wins, every round", async () => {
    const payer = await wallet(100_000);
    const dest = await wallet(0);
    for (let round = 0; round < 20; round++) {
      const h = (await hold(payer, { amount: 10, destination_user_id: dest })).body;
      const [c, v] = await Promise.all([capture(dest, h.hold_id), voidIt(dest, h.hold_id)]);
      const statuses = [c.status, v.status].sort();
      expect(statuses).toEqual([200, 409]);
      const loser = c.status === 409 ? c : v;
      expect(loser.body.error.code).toBe("hold_not_active");
    }
  });

  it("many holds at once on one wallet never reserve more than its balance", async () => {
    const payer = await wallet(1000);
    const results = await Promise.all(Array.from({ length: 40 }, () => hold(payer, { amount: 100 })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    expect(results.filter((r) => r.status === 422).every((r) => r.body.error.code === "insufficient_funds")).toBe(true);
    expect(await balances(payer)).toEqual({ balance: 1000, available_balance: 0 });
  });
});

describe("idempotency", () => {
  it("replays each of the three POSTs, and refuses a key reused with another request", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const key = (k: string) => ({ "idempotency-key": `${k}-${payer}` });
    const first = await hold(payer, { amount: 300, destination_user_id: dest }, key("place"));
    const again = await hold(payer, { amount: 300, destination_user_id: dest }, key("place"));
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    expect((await hold(payer, { amount: 301, destination_user_id: dest }, key("place"))).body.error.code).toBe(
      "idempotency_key_reused",
    );
    const id = first.body.hold_id;
    const c1 = await capture(dest, id, { amount: 100 }, key("capture"));
    const c2 = await capture(dest, id, { amount: 100 }, key("capture"));
    expect(c2.headers["idempotent-replayed"]).toBe("true");
    expect(c2.body).toEqual(c1.body);
    // the same key on another hold's capture is another request
    const other = (await hold(payer, { amount: 5, destination_user_id: dest })).body.hold_id;
    expect((await capture(dest, other, { amount: 100 }, key("capture"))).body.error.code).toBe(
      "idempotency_key_reused",
    );
    const h2 = (await hold(payer, { amount: 50, destination_user_id: dest })).body.hold_id;
    const v1 = await voidIt(dest, h2, key("void"));
    const v2 = await voidIt(dest, h2, key("void"));
    expect(v2.status).toBe(200);
    expect(v2.headers["idempotent-replayed"]).toBe("true");
    expect(v2.body).toEqual(v1.body);
    expect(await balances(payer)).toEqual({ balance: 900, available_balance: 895 });
  });
});

describe("listing", () => {
  it("lists the caller's holds as payer, newest first, by status, in pages", async () => {
    const payer = await wallet(1000);
    const dest = await wallet(0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await hold(payer, { amount: 10 + i, destination_user_id: dest })).body.hold_id);
    await voidIt(dest, ids[1]!);
    const all = (await get(base, "/api/holds/v1?page_size=2", payer)).body;
    expect(all).toMatchObject({ page: 1, page_size: 2, has_more: true });
    expect(all.holds.map((h: { hold_id: string }) => h.hold_id)).toEqual([ids[4], ids[3]]);
    const voided = (await get(base, "/api/holds/v1?status=voided", payer)).body;
    expect(voided.holds.map((h: { hold_id: string }) => h.hold_id)).toEqual([ids[1]]);
    expect((await get(base, "/api/holds/v1", dest)).body.holds).toEqual([]); // destination is not payer
    expect((await get(base, "/api/holds/v1?status=open", payer)).status).toBe(400);
  });
});
