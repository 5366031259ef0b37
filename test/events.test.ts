/**
 * The events API on both engines: every change of a wallet is an event with a
 * gap-free sequence, in the order it happened, with the ids the API returned; paging
 * with after and limit; a long poll answered as soon as the next event commits.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TransferWorkers } from "../src/core/worker.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "e".repeat(40);
const ADMIN = { authorization: `Bearer ${TOKEN}`, "x-actor": "ann" };
let s: TestServer;
let base: string;

beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN: TOKEN });
  base = s.url;
});
afterAll(() => s.stop());

const events = async (u: number, q = "") => (await get(base, `/api/events/v1${q}`, u)).body;

describe("events", () => {
  it("records every change of a wallet, in order, with the ids the API returned", async () => {
    const u = 300;
    const v = 301;
    const d = (await post(base, "/api/deposit/v1", u, { amount: 1000 })).body;
    const w = (await post(base, "/api/withdraw/v1", u, { amount: 100 })).body;
    await get(base, "/api/wallet/balance/v1", v); // opening a wallet is no event
    const t = (await post(base, "/api/transfer/v1", u, { destination_user_id: v, amount: 200 })).body;
    const h = (await post(base, "/api/holds/v1", u, { amount: 50, destination_user_id: v })).body;
    const c = (await post(base, `/api/holds/v1/${h.hold_id}/capture`, v, { amount: 30 })).body;
    const h2 = (await post(base, "/api/holds/v1", u, { amount: 5 })).body;
    await post(base, `/api/holds/v1/${h2.hold_id}/void`, u, {});
    await post(base, "/api/withdraw/v1", u, { amount: 1_000_000 }); // refused: no event
    const failed = (await post(base, "/api/transfer/v2", u, { destination_user_id: v, amount: 1_000_000 })).body;
    await new TransferWorkers(s.services.ctx.db, { workers: 0, batchSize: 10, maxAttempts: 3 }).step(10);
    await call(base, "POST", `/admin/v1/wallets/${u}/freeze`, { body: { reason: "look" }, headers: ADMIN });
    await call(base, "POST", "/admin/v1/adjustments", {
      body: { user_id: u, amount: -7, reason: "fee" },
      headers: ADMIN,
    });
    const r = (
      await call(base, "POST", "/admin/v1/reversals", {
        body: { transfer_id: t.transfer_id, amount: 20, reason: "back" },
        headers: ADMIN,
      })
    ).body;
    await call(base, "POST", `/admin/v1/wallets/${u}/unfreeze`, { body: { reason: "ok" }, headers: ADMIN });

    const page = await events(u);
    expect(page.events.map((e: { sequence: number }) => e.sequence)).toEqual(
      Array.from({ length: page.events.length }, (_v, i) => i + 1),
    );
    expect(page.events.map((e: { type: string }) => e.type)).toEqual([
      "deposit",
      "withdraw",
      "transfer_out",
      "hold_created",
      "hold_captured",
      "hold_created",
      "hold_voided",
      "transfer_failed",
      "frozen",
      "adjustment",
      "reversal",
      "unfrozen",
    ]);
    const [dep, wd, out, held, captured, , voided, fail, frozen, adj, rev, unfrozen] = page.events;
    expect(dep).toEqual({
      id: `${u}:1`,
      user_id: u,
      sequence: 1,
      type: "deposit",
      occurred_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      data: {
        amount: 1000,
        currency: "USD",
        balance_after: 1000,
        available_balance_after: 1000,
        transaction_id: d.transaction_id,
        reference: null,
        metadata: {},
        batch_id: null,
      },
    });
    expect(wd.data).toMatchObject({ amount: 100, balance_after: 900, transaction_id: w.transaction_id });
    expect(out.data).toMatchObject({
      amount: 200,
      balance_after: 700,
      transfer_id: t.transfer_id,
      counterparty_user_id: v,
    });
    expect(held.data).toMatchObject({
      amount: 50,
      balance_after: 700,
      available_balance_after: 650,
      hold_id: h.hold_id,
    });
    expect(captured.data).toMatchObject({ amount: 30, balance_after: 670, available_balance_after: 670 });
    expect(captured.data.transfer_id).toBe(c.transfer_id);
    expect(voided.data).toMatchObject({ hold_id: h2.hold_id, available_balance_after: 670 });
    expect(fail.data).toMatchObject({ transfer_id: failed.transfer_id, reason: "insufficient_funds" });
    expect(frozen.data).toMatchObject({ amount: 0, reason: "look" });
    expect(adj.data).toMatchObject({ amount: 7, balance_after: 663, reason: "fee" });
    expect(rev.data).toMatchObject({
      amount: 20,
      reverses: t.transfer_id,
      reason: "back",
      transaction_id: r.reversal_id,
    });
    expect(unfrozen.type).toBe("unfrozen");
    // the receiver's side
    const theirs = (await events(v)).events.map((e: { type: string }) => e.type);
    expect(theirs).toEqual(["transfer_in", "transfer_in", "reversal"]);
  });

  it("pages with after and limit, next_after carrying on", async () => {
    const u = 310;
    for (let i = 1; i <= 7; i++) await post(base, "/api/deposit/v1", u, { amount: i });
    const p1 = await events(u, "?limit=3");
    expect(p1.events.map((e: { sequence: number }) => e.sequence)).toEqual([1, 2, 3]);
    expect(p1.next_after).toBe(3);
    const p3 = await events(u, "?after=6&limit=3");
    expect(p3.events.map((e: { sequence: number }) => e.sequence)).toEqual([7]);
    const none = await events(u, "?after=7");
    expect(none).toEqual({ events: [], next_after: 7 });
    expect((await events(999_999)).events).toEqual([]);
  });

  it("answers a long poll as soon as the next event commits, and an empty one when the wait ends", async () => {
    const u = 320;
    await post(base, "/api/deposit/v1", u, { amount: 1 });
    const started = Date.now();
    const polled = get(base, "/api/events/v1?after=1&wait=10", u);
    await new Promise((r) => setTimeout(r, 300));
    await post(base, "/api/deposit/v1", u, { amount: 2 });
    const r = (await polled).body;
    const took = Date.now() - started;
    expect(r.events.map((e: { sequence: number; data: { amount: number } }) => [e.sequence, e.data.amount])).toEqual([
      [2, 2],
    ]);
    expect(took).toBeGreaterThanOrEqual(300);
    expect(took).toBeLessThan(5000); // long before the 10 s wait
    const t0 = Date.now();
    const empty = (await get(base, "/api/events/v1?after=2&wait=1", u)).body;
    expect(empty).toEqual({ events: [], next_after: 2 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
  });

  it("refuses bad parameters with 400", async () => {
    for (const q of ["after=-1", "after=x", "limit=0", "limit=501", "wait=31", "wait=1.5", "cursor=3"]) {
      const r = await get(base, `/api/events/v1?${q}`, 330);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
  });
});
