/**
 * The cache epoch across Redis outages, on a private redis-server that the test stops
 * and starts again empty: an epoch never repeats, so a cache fill whose database read
 * began before the outage is never stored after it (the read is held by a test seam).
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { RedisCache } from "../src/core/cache/redisCache.js";
import { engine } from "./helpers/env.js";
import { PrivateRedis } from "./helpers/redis.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

/** Waits on a condition (the test's own timeout bounds it). */
async function until(what: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await what())) await new Promise((r) => setTimeout(r, 20));
}

describe.skipIf(engine !== "pg")("the cache epoch across Redis restarts", () => {
  let redis: PrivateRedis | undefined;
  let server: TestServer | undefined;
  afterEach(async () => {
    await server?.stop();
    await redis?.stop();
  });

  async function setUp(): Promise<{ redis: PrivateRedis; server: TestServer; prefix: string }> {
    redis = await PrivateRedis.create();
    const prefix = `t:${randomBytes(3).toString("hex")}:`;
    server = await startTestServer({ REDIS_URL: redis.url, REDIS_PREFIX: prefix });
    return { redis, server, prefix };
  }
  const redisOk = async (s: TestServer) => (await get(s.url, "/readyz")).body?.redis === "ok";
  /** Back in use: traffic goes on (another wallet's reads) until the instance uses Redis again. */
  const backInUse = async (s: TestServer) => {
    await get(s.url, "/api/wallet/balance/v1", 999);
    return redisOk(s);
  };

  it("takes an epoch after an empty restart that differs from the one before", async () => {
    const { redis, server, prefix } = await setUp();
    const peek = async () => {
      const c = new Redis(redis.url);
      try {
        return await c.get(`${prefix}epoch`);
      } finally {
        c.disconnect();
      }
    };
    const before = await peek();
    expect(before).not.toBeNull();
    await redis.stop();
    await until(async () => !(await redisOk(server)));
    await redis.start();
    await until(() => backInUse(server));
    const after = await peek();
    expect(after).not.toBeNull();
    expect(after).not.toBe(before);
  });

  it("never serves a fill whose read began before an empty restart", async () => {
    const { redis, server } = await setUp();
    const user = 5;
    expect((await post(server.url, "/api/deposit/v1", user, { amount: 100 })).body.balance).toBe(100);
    const reads = server.services.reads;
    let reached!: () => void;
    let release!: () => void;
    const atSeam = new Promise<void>((r) => (reached = r));
    const released = new Promise<void>((r) => (release = r));
    reads.testSeamBeforeFill = async () => {
      reads.testSeamBeforeFill = undefined;
      reached();
      await released;
    };
    // a miss: read from the database at balance 100, then held before its fill
    const early = get(server.url, "/api/wallet/balance/v1", user);
    await atSeam;
    await redis.stop();
    await until(async () => !(await redisOk(server)));
    const cache = reads.cache as RedisCache;
    const skipped = cache.counts.bumpsSkipped;
    const w = await post(server.url, "/api/deposit/v1", user, { amount: 50 });
    expect(w.body.balance).toBe(150);
    // the write's own bump and the change feed's were both skipped: no later bump tells Redis
    await until(() => cache.counts.bumpsSkipped >= skipped + 2);
    await redis.start(); // empty
    await until(() => backInUse(server));
    release();
    expect((await early).body.balance).toBe(100); // it began before the write
    for (let i = 0; i < 3; i++) {
      expect((await get(server.url, "/api/wallet/balance/v1", user)).body.balance).toBe(150);
    }
  });
});
