/**
 * Holds in time and under contention, over real HTTP on both engines: expiry judged
 * at each action and marked in the background, a capture at the instant of expiry,
 * and the races (capture against void, many holds on one wallet), with the ledger
 * verified after each test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { holdsApi, untilInstant } from "./helpers/holds.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let api: ReturnType<typeof holdsApi>;

beforeAll(async () => {
  s = await startTestServer({ HOLD_SWEEP_MS: "100" });
  api = holdsApi(s.url);
});
afterAll(() => s.stop());
afterEach(async () => {
  expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
});

/** The hold's row as the database has it: changed only by an action or the background marker. */
const storedStatus = async (id: string) =>
  (await s.services.ctx.db.query<{ status: string }>("select status from holds where id = $1", [id]))[0]!.status;

/** A hold of 600 out of 1000 that expires in a second, and the instant it expires. */
async function expiringHold() {
  const payer = await api.wallet(1000);
  const h = (await api.hold(payer, { amount: 600, expires_in_seconds: 1 })).body;
  expect((await api.balances(payer)).available_balance).toBe(400);
  return { payer, id: h.hold_id as string, at: Date.parse(h.expires_at) };
}

describe("expiry", () => {
  it("makes the amount available again at the expiry instant", async () => {
    const { payer, at } = await expiringHold();
    await untilInstant(at);
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 1000,
      credit_limit: 0,
    });
  });

  it("reads an expired hold as expired", async () => {
    const { payer, id, at } = await expiringHold();
    await untilInstant(at);
    expect((await api.read(payer, id)).status).toBe("expired");
  });

  it("lets the payer spend an expired hold's amount", async () => {
    const { payer, at } = await expiringHold();
    await untilInstant(at);
    expect((await post(s.url, "/api/withdraw/v1", payer, { amount: 1000 })).status).toBe(200);
  });

  it("marks an expired hold in the background, with no action on its wallet", async () => {
    const { id } = await expiringHold();
    expect(await storedStatus(id)).toBe("held");
    await vi.waitFor(async () => expect(await storedStatus(id)).toBe("expired"), { timeout: 10_000, interval: 50 });
  });

  it("tags the expiry's event with the hold's reference and metadata", async () => {
    const payer = await api.wallet(1000);
    const body = { amount: 300, expires_in_seconds: 1, reference: "cart-77", metadata: { order: "77" } };
    const h = (await api.hold(payer, body)).body;
    await vi.waitFor(async () => expect(await storedStatus(h.hold_id)).toBe("expired"), {
      timeout: 10_000,
      interval: 50,
    });
    const events = (await get(s.url, "/api/events/v1?limit=500", payer)).body.events;
    const expired = events.filter((e: { type: string }) => e.type === "hold_expired");
    expect(expired.map((e: { data: object }) => e.data)).toEqual([
      expect.objectContaining({ hold_id: h.hold_id, reference: "cart-77", metadata: { order: "77" }, batch_id: null }),
    ]);
  });

  it("lists an expired hold under status=expired, not under status=held", async () => {
    const { payer, id, at } = await expiringHold();
    await untilInstant(at);
    const listed = (await get(s.url, "/api/holds/v1?status=expired", payer)).body;
    expect(listed.holds.map((x: { hold_id: string }) => x.hold_id)).toEqual([id]);
    expect((await get(s.url, "/api/holds/v1?status=held", payer)).body.holds).toEqual([]);
  });

  it("moves the money of a capture at the moment of expiry exactly once or not at all", async () => {
    const payer = await api.wallet(100_000);
    const dest = await api.wallet(0);
    let moved = 0;
    for (let round = 0; round < 8; round++) {
      const h = (await api.hold(payer, { amount: 1000, destination_user_id: dest, expires_in_seconds: 1 })).body;
      await untilInstant(Date.parse(h.expires_at) - 30 + round * 8); // around the instant, either side
      const r = await api.capture(dest, h.hold_id);
      const after = await api.read(payer, h.hold_id);
      if (r.status === 200) {
        // captured whole, once: the hold says so and the destination got exactly its amount
        expect(r.body).toMatchObject({ status: "captured", captured_amount: 1000 });
        expect(after).toMatchObject({ status: "captured", captured_amount: 1000 });
        moved += 1000;
      } else {
        // refused: the hold expired and nothing moved
        expect([r.status, r.body.error.code]).toEqual([409, "hold_not_active"]);
        expect(after).toMatchObject({ status: "expired", captured_amount: null });
      }
      expect(await api.balances(dest)).toEqual({
        currency: "USD",
        balance: moved,
        available_balance: moved,
        credit_limit: 0,
      });
    }
    expect((await api.balances(payer)).balance).toBe(100_000 - moved);
  });
});

describe("races", () => {
  it("lets exactly one of a capture and a void of one hold at once win, every round", async () => {
    const payer = await api.wallet(100_000);
    const dest = await api.wallet(0);
    for (let round = 0; round < 20; round++) {
      const h = (await api.hold(payer, { amount: 10, destination_user_id: dest })).body;
      const [c, v] = await Promise.all([api.capture(dest, h.hold_id), api.voidIt(dest, h.hold_id)]);
      const statuses = [c.status, v.status].sort();
      expect(statuses).toEqual([200, 409]);
      const loser = c.status === 409 ? c : v;
      expect(loser.body.error.code).toBe("hold_not_active");
    }
  });

  it("never reserves more than a wallet's balance with many holds at once", async () => {
    const payer = await api.wallet(1000);
    const results = await Promise.all(Array.from({ length: 40 }, () => api.hold(payer, { amount: 100 })));
    expect(results.filter((r) => r.status === 201)).toHaveLength(10);
    expect(results.filter((r) => r.status === 422).every((r) => r.body.error.code === "insufficient_funds")).toBe(true);
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 0,
      credit_limit: 0,
    });
  });
});
