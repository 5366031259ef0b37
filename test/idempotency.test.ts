import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { purgeIdempotencyKeys } from "../src/core/purgeIdempotencyKeys.js";
import { balanceOf, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let base: string;
beforeAll(async () => {
  s = await startTestServer();
  base = s.url;
});
afterAll(() => s.stop());

const key = (k: string) => ({ "idempotency-key": k });

describe("Idempotency-Key", () => {
  it("replays the first answer, status and body, and changes nothing", async () => {
    const first = await post(base, "/api/deposit/v1", 1, { amount: 500 }, key("dep-1"));
    expect(first.status).toBe(200);
    expect(first.headers["idempotent-replayed"]).toBeUndefined();
    await post(base, "/api/deposit/v1", 1, { amount: 1 }); // a later change of the balance
    const again = await post(base, "/api/deposit/v1", 1, { amount: 500 }, key("dep-1"));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(await balanceOf(base, 1)).toBe(501);
  });

  it("refuses the same key with a different body", async () => {
    await post(base, "/api/deposit/v1", 2, { amount: 100 }, key("k"));
    const other = await post(base, "/api/deposit/v1", 2, { amount: 101 }, key("k"));
    expect(other.status).toBe(422);
    expect(other.body.error.code).toBe("idempotency_key_reused");
    expect(await balanceOf(base, 2)).toBe(100);
  });

  it("refuses the same key on another endpoint", async () => {
    await post(base, "/api/deposit/v1", 13, { amount: 100 }, key("k"));
    const elsewhere = await post(base, "/api/withdraw/v1", 13, { amount: 100 }, key("k"));
    expect(elsewhere.status).toBe(422);
    expect(elsewhere.body.error.code).toBe("idempotency_key_reused");
    expect(await balanceOf(base, 13)).toBe(100);
  });

  it("scopes keys per user", async () => {
    await post(base, "/api/deposit/v1", 3, { amount: 10 }, key("shared"));
    const r = await post(base, "/api/deposit/v1", 4, { amount: 10 }, key("shared"));
    expect(r.status).toBe(200);
    expect(r.headers["idempotent-replayed"]).toBeUndefined();
    expect(await balanceOf(base, 4)).toBe(10);
  });

  it("stores an executed refusal and replays it, even after funds arrive", async () => {
    await balanceOf(base, 6);
    const poor = await post(base, "/api/transfer/v1", 5, { destination_user_id: 6, amount: 50 }, key("t1"));
    expect(poor.status).toBe(422);
    expect(poor.body.error.code).toBe("insufficient_funds");
    await post(base, "/api/deposit/v1", 5, { amount: 100 });
    const again = await post(base, "/api/transfer/v1", 5, { destination_user_id: 6, amount: 50 }, key("t1"));
    expect(again.status).toBe(422);
    expect(again.body.error.code).toBe("insufficient_funds");
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(await balanceOf(base, 5)).toBe(100);
  });

  it("stores nothing for a request refused before execution", async () => {
    const bad = await post(base, "/api/deposit/v1", 7, { amount: -1 }, key("later"));
    expect(bad.status).toBe(400);
    const good = await post(base, "/api/deposit/v1", 7, { amount: 5 }, key("later"));
    expect(good.status).toBe(200);
    expect(good.headers["idempotent-replayed"]).toBeUndefined();
    expect(await balanceOf(base, 7)).toBe(5);
  });

  it("applies 20 concurrent duplicates once, answering each with the one answer", async () => {
    await post(base, "/api/deposit/v1", 8, { amount: 1000 });
    await balanceOf(base, 9);
    const body = { destination_user_id: 9, amount: 70 };
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => post(base, "/api/transfer/v1", 8, body, key("burst"))),
    );
    for (const a of answers) {
      expect(a.status).toBe(200);
      expect(a.body).toEqual(answers[0]!.body);
    }
    expect(answers.filter((a) => a.headers["idempotent-replayed"] === "true")).toHaveLength(19);
    expect(await balanceOf(base, 8)).toBe(930);
    expect(await balanceOf(base, 9)).toBe(70);
    const history = await get(base, "/api/transactions/v1?type=3", 8);
    expect(history.body.transactions).toHaveLength(1);
  });

  it("accepts concurrent duplicates of an async transfer once", async () => {
    await post(base, "/api/deposit/v1", 10, { amount: 100 });
    await balanceOf(base, 11);
    const body = { destination_user_id: 11, amount: 10 };
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(base, "/api/transfer/v2", 10, body, key("async"))),
    );
    const ids = new Set(answers.map((a) => a.body.transfer_id));
    expect(answers.every((a) => a.status === 202)).toBe(true);
    expect(ids.size).toBe(1);
  });

  it("refuses an async transfer's key reused with another amount", async () => {
    await post(base, "/api/deposit/v1", 14, { amount: 100 });
    await balanceOf(base, 11);
    await post(base, "/api/transfer/v2", 14, { destination_user_id: 11, amount: 10 }, key("async"));
    const reused = await post(base, "/api/transfer/v2", 14, { destination_user_id: 11, amount: 11 }, key("async"));
    expect(reused.body.error.code).toBe("idempotency_key_reused");
  });

  it("keeps a key for 24 hours", async () => {
    await post(base, "/api/deposit/v1", 15, { amount: 1 }, key("day"));
    const db = s.services.ctx.db;
    await db.query("update idempotency_keys set created_at = now() - interval '24 hours' where user_id = 15");
    expect(await purgeIdempotencyKeys(s.services.ctx)).toBe(0); // 24 h: still kept
    const replay = await post(base, "/api/deposit/v1", 15, { amount: 1 }, key("day"));
    expect(replay.headers["idempotent-replayed"]).toBe("true");
  });

  it("purges a key past its time, keeping the others", async () => {
    await post(base, "/api/deposit/v1", 12, { amount: 1 }, key("old"));
    await post(base, "/api/deposit/v1", 12, { amount: 1 }, key("new"));
    const db = s.services.ctx.db;
    await db.query(
      "update idempotency_keys set created_at = now() - interval '26 hours' where user_id = 12 and key = 'old'",
    );
    expect(await purgeIdempotencyKeys(s.services.ctx, 25, 1)).toBe(1);
    const rows = await db.query("select key from idempotency_keys where user_id = 12");
    expect(rows).toEqual([{ key: "new" }]);
    const replay = await post(base, "/api/deposit/v1", 12, { amount: 1 }, key("new"));
    expect(replay.headers["idempotent-replayed"]).toBe("true");
  });
});
