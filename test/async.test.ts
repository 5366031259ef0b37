/**
 * Transfer v2 on both engines: outcomes, visibility, retries of transient faults
 * (a real database error, raised by a trigger), dead letters and their re-queue from
 * the CLI, and per-sender ordering with several workers.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { balanceOf, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let base: string;
beforeAll(async () => {
  s = await startTestServer({
    TRANSFER_WORKERS: "3",
    TRANSFER_BATCH_SIZE: "4",
    TRANSFER_MAX_ATTEMPTS: "3",
    TRANSFER_RETRY_BASE_MS: "20",
  });
  base = s.url;
});
afterAll(() => s.stop());

async function settle(user: number, id: string, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const r = await get(base, `/api/transfer/v2/${id}`, user);
    if (r.status !== 200) throw new Error(`GET transfer ${id}: ${r.status}`);
    if (r.body.status !== "pending" || r.body.dead_lettered) return r.body;
    if (Date.now() > until) throw new Error(`transfer ${id} still pending`);
    await new Promise((res) => setTimeout(res, 20));
  }
}

describe("transfer v2", () => {
  it("accepts with 202 and completes", async () => {
    await post(base, "/api/deposit/v1", 1, { amount: 1000 });
    await balanceOf(base, 2);
    const r = await post(base, "/api/transfer/v2", 1, { destination_user_id: 2, amount: 400 });
    expect(r.status).toBe(202);
    expect(r.body).toEqual({ success: true, transfer_id: expect.stringMatching(/^[0-9]+$/), status: "pending" });
    const done = await settle(1, r.body.transfer_id);
    expect(done).toMatchObject({
      transfer_id: r.body.transfer_id,
      status: "completed",
      amount: 400,
      destination_user_id: 2,
    });
    expect(done.failure_reason).toBeUndefined();
    expect(await balanceOf(base, 1)).toBe(600);
    expect(await balanceOf(base, 2)).toBe(400);
  });

  it("fails for funds when applied, with a reason, changing nothing", async () => {
    await post(base, "/api/deposit/v1", 3, { amount: 10 });
    await balanceOf(base, 4);
    const r = await post(base, "/api/transfer/v2", 3, { destination_user_id: 4, amount: 11 });
    expect(r.status).toBe(202);
    const done = await settle(3, r.body.transfer_id);
    expect(done).toMatchObject({ status: "failed", failure_reason: "insufficient_funds" });
    expect(await balanceOf(base, 3)).toBe(10);
    expect(await balanceOf(base, 4)).toBe(0);
  });

  it("refuses at acceptance what it can know: same wallet, missing wallet", async () => {
    const self = await post(base, "/api/transfer/v2", 3, { destination_user_id: 3, amount: 1 });
    expect(self.status).toBe(422);
    expect(self.body.error.code).toBe("same_wallet");
    const missing = await post(base, "/api/transfer/v2", 3, { destination_user_id: 424242, amount: 1 });
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe("wallet_not_found");
  });

  it("shows a transfer only to its sender and receiver", async () => {
    await post(base, "/api/deposit/v1", 5, { amount: 100 });
    await balanceOf(base, 6);
    const r = await post(base, "/api/transfer/v2", 5, { destination_user_id: 6, amount: 1 });
    await settle(5, r.body.transfer_id);
    expect((await get(base, `/api/transfer/v2/${r.body.transfer_id}`, 6)).status).toBe(200);
    const stranger = await get(base, `/api/transfer/v2/${r.body.transfer_id}`, 7);
    expect(stranger.status).toBe(404);
    expect(stranger.body.error.code).toBe("not_found");
    expect((await get(base, "/api/transfer/v2/123", 5)).status).toBe(404);
    expect((await get(base, "/api/transfer/v2/abc", 5)).status).toBe(404);
    expect((await get(base, "/api/transfer/v2/99999999999999999999999", 5)).status).toBe(404);
    expect((await get(base, `/api/transfer/v2/${r.body.transfer_id}`)).status).toBe(401);
  });

  it("retries a transient fault with backoff, then completes", async () => {
    // a real fault: the database refuses the first two attempts to complete this transfer
    // with serialization_failure (40001), as a concurrent writer would make it
    await s.services.ctx.db.query(`
      create or replace function test_flaky() returns trigger language plpgsql as $$
      begin
        if new.amount = 4243 and new.status in ('completed', 'failed') and old.attempts < 2 then
          raise exception 'injected conflict' using errcode = '40001';
        end if;
        return new;
      end $$`);
    await s.services.ctx.db.query(
      "create trigger test_flaky before update on transfers for each row execute function test_flaky()",
    );
    try {
      await post(base, "/api/deposit/v1", 8, { amount: 10_000 });
      await balanceOf(base, 9);
      const r = await post(base, "/api/transfer/v2", 8, { destination_user_id: 9, amount: 4243 });
      const done = await settle(8, r.body.transfer_id);
      expect(done.status).toBe("completed");
      const rows = await s.services.ctx.db.query("select attempts, last_error from transfers where id = $1", [
        r.body.transfer_id,
      ]);
      expect(rows[0]).toEqual({ attempts: 3, last_error: "injected conflict" });
      expect(await balanceOf(base, 9)).toBe(4243);
    } finally {
      await s.services.ctx.db.query("drop trigger test_flaky on transfers");
    }
  });

  it("dead-letters after the last attempt, and a retry re-queues it", async () => {
    await s.services.ctx.db.query(`
      create or replace function test_broken() returns trigger language plpgsql as $$
      begin
        if new.amount = 4244 and new.status in ('completed', 'failed') then
          raise exception 'injected deadlock' using errcode = '40P01';
        end if;
        return new;
      end $$`);
    await s.services.ctx.db.query(
      "create trigger test_broken before update on transfers for each row execute function test_broken()",
    );
    await post(base, "/api/deposit/v1", 10, { amount: 10_000 });
    await balanceOf(base, 11);
    const r = await post(base, "/api/transfer/v2", 10, { destination_user_id: 11, amount: 4244 });
    const parked = await settle(10, r.body.transfer_id);
    expect(parked).toMatchObject({ status: "pending", dead_lettered: true });
    const rows = await s.services.ctx.db.query("select status, attempts from transfers where id = $1", [
      r.body.transfer_id,
    ]);
    expect(rows[0]).toEqual({ status: "dead", attempts: 3 });
    expect(await balanceOf(base, 10)).toBe(10_000);

    await s.services.ctx.db.query("drop trigger test_broken on transfers");
    const { retryTransfer } = await import("../src/core/transfers.js");
    const requeued = await retryTransfer(s.services.ctx, r.body.transfer_id, { actor: "test" });
    expect(["pending", "completed"]).toContain(requeued.status); // a worker may be quicker
    expect((await settle(10, r.body.transfer_id)).status).toBe("completed");
    expect(await balanceOf(base, 11)).toBe(4244);
    await expect(retryTransfer(s.services.ctx, r.body.transfer_id, { actor: "test" })).rejects.toThrow(/not dead/);
  });

  it("applies a sender's transfers in the order they were accepted", async () => {
    const senders = [20, 21, 22];
    for (const u of senders) await post(base, "/api/deposit/v1", u, { amount: 1_000_000 });
    await balanceOf(base, 30);
    await balanceOf(base, 31);
    const accepted: Record<number, string[]> = { 20: [], 21: [], 22: [] };
    // each sender sends one at a time (acceptance order is then well defined); the
    // senders run at once, and three workers with batches of 4 race for the queue
    await Promise.all(
      senders.map(async (u) => {
        for (let i = 0; i < 40; i++) {
          const r = await post(base, "/api/transfer/v2", u, { destination_user_id: 30 + (i % 2), amount: 1 + i });
          accepted[u]!.push(r.body.transfer_id);
        }
      }),
    );
    for (const u of senders) for (const id of accepted[u]!) await settle(u, id);
    for (const u of senders) {
      const rows = await s.services.ctx.db.query<{ t: string }>(
        "select transfer_id::text as t from journal where user_id = $1 and kind = 3 and direction = -1 order by seq",
        [u],
      );
      expect(rows.map((r: { t: string }) => r.t)).toEqual(accepted[u]);
    }
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});
