/** Without Redis: the in-process rate limiter and (on the embedded database) cache. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engine } from "./helpers/env.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

describe("in-process rate limit", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "5" });
  });
  afterAll(() => s.stop());

  it("admits the burst, then 429 with Retry-After; refused writes change nothing and store no key", async () => {
    const answers = [];
    const started = Date.now();
    for (let i = 0; i < 8; i++)
      answers.push(await post(s.url, "/api/deposit/v1", 1, { amount: 10 }, { "idempotency-key": `k${i}` }));
    const seconds = (Date.now() - started) / 1000;
    const ok = answers.filter((a) => a.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    // the burst of 5, plus what refilled at 1/s while the requests ran
    expect(ok.length).toBeLessThanOrEqual(5 + Math.ceil(seconds));
    expect(ok.length).toBeLessThan(8);
    const limited = answers.find((a) => a.status === 429)!;
    expect(limited.body.error.code).toBe("rate_limited");
    expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    expect(limited.headers["ratelimit-limit"]).toBe("5");
    const rows = await s.services.ctx.db.query<{ n: number; b: number }>(
      "select (select count(*)::int from idempotency_keys where user_id = 1) as n, (select balance from wallets where user_id = 1) as b",
    );
    expect(rows[0]).toEqual({ n: ok.length, b: ok.length * 10 });
    expect((await get(s.url, "/healthz")).status).toBe(200); // not limited
  });
});

describe.skipIf(engine !== "pglite")("in-process cache on the embedded database", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer();
  });
  afterAll(() => s.stop());

  it("serves hits and never an older balance or history after a write", async () => {
    expect(s.services.reads.cache.kind).toBe("memory");
    let stale = 0;
    for (let i = 0; i < 100; i++) {
      await get(s.url, "/api/wallet/balance/v1", 5);
      await get(s.url, "/api/transactions/v1", 5);
      const w = await post(s.url, "/api/deposit/v1", 5, { amount: 1 });
      const r = await get(s.url, "/api/wallet/balance/v1", 5);
      const h = await get(s.url, "/api/transactions/v1", 5);
      if (r.body.balance !== w.body.balance || h.body.transactions[0].id !== w.body.transaction_id) stale++;
    }
    expect(stale).toBe(0);
    expect(s.services.reads.stats.hits).toBeGreaterThanOrEqual(190);
  });
});
