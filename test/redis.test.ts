/**
 * Two real `wallet serve` processes on one PostgreSQL and one Redis: reads on one
 * instance see writes answered by the other (cache never stale), ledger invariants
 * hold under concurrent transfers through both, the rate limit is shared, and Redis
 * stopped, restarted and cut mid-test loses no write and serves no stale read.
 */
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { freshDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import { PrivateRedis } from "./helpers/redis.js";
import { get, post } from "./helpers/server.js";

describe.skipIf(engine !== "pg")("two instances sharing PostgreSQL and Redis", () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  let redis: PrivateRedis;
  let a: ServeProcess;
  let b: ServeProcess;

  beforeAll(async () => {
    const db = await freshDatabase();
    drop = db.drop;
    redis = await PrivateRedis.create();
    env = { ...db.env, REDIS_URL: redis.url, TRANSFER_WORKERS: "1", LOG_LEVEL: "warn" };
    [a, b] = await Promise.all([
      startProcess("serve", { ...env, LOG_LEVEL: "info" }),
      startProcess("serve", { ...env, LOG_LEVEL: "info" }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
    await drop?.();
  });

  /** Writes on one instance, reads balance and history on the other: counts stale answers. */
  async function rounds(n: number, user: number, opts: { during?: (i: number) => Promise<void> } = {}) {
    let stale = 0;
    let lastBalance = (await get(a.url, "/api/wallet/balance/v1", user)).body.balance as number;
    for (let i = 0; i < n; i++) {
      const [writer, reader] = i % 2 === 0 ? [a, b] : [b, a];
      // the reader warms its cache at the current version first: the write must not let it serve this again
      await get(reader.url, "/api/wallet/balance/v1", user);
      await get(reader.url, "/api/transactions/v1?page_size=1", user);
      await opts.during?.(i);
      const w = await post(writer.url, i % 5 === 4 ? "/api/withdraw/v1" : "/api/deposit/v1", user, { amount: 3 });
      expect(w.status).toBe(200);
      expect(w.body.balance).not.toBe(lastBalance);
      lastBalance = w.body.balance;
      const r = await get(reader.url, "/api/wallet/balance/v1", user);
      const h = await get(reader.url, "/api/transactions/v1?page_size=1", user);
      if (r.body.balance !== w.body.balance) stale++;
      if (h.body.transactions[0]?.id !== w.body.transaction_id) stale++;
      // read again on the writer: the value the reader just cached is shared (a hit)
      const again = await get(writer.url, "/api/wallet/balance/v1", user);
      if (again.body.balance !== w.body.balance) stale++;
    }
    return stale;
  }

  async function cacheHits(p: ServeProcess): Promise<number> {
    const text = (await get(p.url, "/metrics")).raw.toString();
    return Number(/wallet_cache_requests_total\{result="hit"\} (\d+)/.exec(text)?.[1] ?? 0);
  }

  it("serves no stale read across instances in hundreds of rounds", async () => {
    const hitsBefore = (await cacheHits(a)) + (await cacheHits(b));
    expect(await rounds(300, 1)).toBe(0);
    // the cache was really in play: the re-reads were served from it
    expect((await cacheHits(a)) + (await cacheHits(b)) - hitsBefore).toBeGreaterThanOrEqual(250);
  });

  it("keeps every invariant under concurrent transfers through both instances", async () => {
    const users = [11, 12, 13, 14];
    for (const u of users) await post(a.url, "/api/deposit/v1", u, { amount: 5000 });
    const agent = new Agent({ connections: 32 });
    const statuses: number[] = [];
    await Promise.all(
      Array.from({ length: 24 }, async (_v, c) => {
        for (let i = 0; i < 40; i++) {
          const from = users[(c + i) % 4]!;
          const to = users[(c + i + 1 + (i % 3)) % 4]!;
          const target = (c + i) % 2 === 0 ? a.url : b.url;
          const r = await request(`${target}/api/transfer/v1`, {
            method: "POST",
            dispatcher: agent,
            headers: { authorization: String(from) },
            body: JSON.stringify({ destination_user_id: to, amount: 1 + ((c * 31 + i * 17) % 3000) }),
          });
          await r.body.text();
          statuses.push(r.statusCode);
        }
      }),
    );
    await agent.close();
    expect(new Set(statuses)).toEqual(new Set([200, 422]));
    let total = 0;
    for (const u of users) {
      const [x, y] = await Promise.all([
        get(a.url, "/api/wallet/balance/v1", u),
        get(b.url, "/api/wallet/balance/v1", u),
      ]);
      expect(x.body.balance).toBe(y.body.balance);
      total += x.body.balance;
    }
    expect(total).toBe(20_000);
    const verify = await runCli(["verify", "--json"], env);
    expect(verify.json?.violations).toEqual([]);
  });

  it("loses no write and serves no stale read when Redis stops, restarts, or its connections are cut", async () => {
    const user = 2;
    await post(a.url, "/api/deposit/v1", user, { amount: 1000 });
    let deposits = 0;
    const stale = await rounds(90, user, {
      during: async (i) => {
        if (i === 20) await redis.stop(); // Redis down: both instances read PostgreSQL
        if (i === 40) await redis.start(); // back, empty
        if (i === 60 || i === 75) await redis.cutConnections(); // data kept, connections cut
        if (i === 30) {
          const r = await get(a.url, "/readyz");
          expect(r.status).toBe(200);
          expect(r.body).toMatchObject({ status: "degraded", database: "ok", redis: "degraded" });
        }
        deposits++;
      },
    });
    expect(stale).toBe(0);
    expect(deposits).toBe(90);
    const verify = await runCli(["verify", "--json"], env);
    expect(verify.json?.violations).toEqual([]);
  });
});

describe.skipIf(engine !== "pg")("rate limit shared through Redis", () => {
  it("admits at most the bucket across both instances, then 429 with Retry-After and RateLimit headers", async () => {
    const db = await freshDatabase();
    const redis = await PrivateRedis.create();
    const env = { ...db.env, REDIS_URL: redis.url, TRANSFER_WORKERS: "0", RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "20" };
    const [a, b] = await Promise.all([startProcess("serve", env), startProcess("serve", env)]);
    try {
      const started = Date.now();
      const answers = await Promise.all(
        Array.from({ length: 60 }, (_v, i) => get(i % 2 === 0 ? a.url : b.url, "/api/wallet/balance/v1", 7)),
      );
      const seconds = (Date.now() - started) / 1000;
      const admitted = answers.filter((r) => r.status === 200).length;
      expect(admitted).toBeGreaterThanOrEqual(20);
      expect(admitted).toBeLessThanOrEqual(20 + Math.ceil(seconds * 1));
      const limited = answers.find((r) => r.status === 429)!;
      expect(limited.body.error.code).toBe("rate_limited");
      expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(limited.headers["ratelimit-limit"]).toBe("20");
      expect(limited.headers["ratelimit-remaining"]).toBe("0");
      expect(Number(limited.headers["ratelimit-reset"])).toBeGreaterThan(0);
      // both instances refused some: the bucket is one, not one each
      expect(answers.filter((r, i) => i % 2 === 0 && r.status === 429).length).toBeGreaterThan(0);
      expect(answers.filter((r, i) => i % 2 === 1 && r.status === 429).length).toBeGreaterThan(0);
      // another user has a bucket of their own
      expect((await get(a.url, "/api/wallet/balance/v1", 8)).status).toBe(200);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
      await redis.stop();
      await db.drop();
    }
  });
});
