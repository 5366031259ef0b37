/**
 * While Redis is away, writes and the change feed do not wait on it: a write's version
 * bump is skipped (nothing is sent), and a long poll on another instance wakes as soon
 * as that instance reads the change log. While Redis is up, a read of the log that
 * brings many rows costs one Redis call. Each test has a private redis-server.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import type { RedisCache } from "../src/core/cache/redisCache.js";
import type { WalletChange } from "../src/core/changes/feed.js";
import { runCli } from "./helpers/cli.js";
import { freshDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import { PrivatePostgres } from "./helpers/privatePostgres.js";
import { PrivateRedis } from "./helpers/redis.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

/** Waits on a condition (the test's own timeout bounds it). */
async function until(what: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await what())) await new Promise((r) => setTimeout(r, 20));
}
const redisState = async (url: string) => (await get(url, "/readyz")).body?.redis as string;

describe.skipIf(engine !== "pg")("Redis away, in one process", () => {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  async function servers(n: number): Promise<{ redis: PrivateRedis; list: TestServer[] }> {
    const redis = await PrivateRedis.create();
    cleanup.push(() => redis.stop());
    const db = await freshDatabase();
    cleanup.push(db.drop);
    const env = { REDIS_URL: redis.url, REDIS_PREFIX: `t:${randomBytes(3).toString("hex")}:` };
    const list: TestServer[] = [];
    for (let i = 0; i < n; i++) {
      const s = await startTestServer(env, db);
      cleanup.push(() => s.stop());
      list.push(s);
    }
    return { redis, list };
  }
  const cacheOf = (s: TestServer) => s.services.reads.cache as RedisCache;

  it("sends nothing to Redis for writes while it is down: each bump is skipped, not retried", async () => {
    const { redis, list } = await servers(1);
    const [a] = list as [TestServer];
    const cache = cacheOf(a);
    expect((await post(a.url, "/api/deposit/v1", 1, { amount: 10 })).status).toBe(200);
    await redis.stop();
    await until(async () => (await redisState(a.url)) === "degraded");
    const before = { ...cache.counts };
    for (let i = 0; i < 10; i++) {
      const r = await post(a.url, "/api/deposit/v1", 1 + (i % 3), { amount: 1 });
      expect(r.status).toBe(200);
    }
    expect(cache.counts.commands).toBe(before.commands);
    // every write's own bump was skipped (the change feed's too, as it reads them)
    expect(cache.counts.bumpsSkipped - before.bumpsSkipped).toBeGreaterThanOrEqual(10);
  });

  it("tells Redis of many rows of the change log in one call", async () => {
    const { list } = await servers(2);
    const [a, b] = list as [TestServer, TestServer];
    const heard: WalletChange[][] = [];
    b.services.ctx.feed!.subscribe({ onChanges: (c) => void heard.push(c), onReset: () => undefined });
    // a transaction with an id holds every reader of the log below it: A's ten commits
    // after it are read by B at once when it ends
    const blocker = new pg.Client({ connectionString: a.env.DATABASE_URL });
    await blocker.connect();
    cleanup.push(() => blocker.end());
    await blocker.query("begin");
    await blocker.query("select pg_current_xact_id()");
    for (let i = 0; i < 10; i++) {
      expect((await post(a.url, "/api/deposit/v1", 20 + i, { amount: 5 })).status).toBe(200);
    }
    const commands = cacheOf(b).counts.commands;
    await blocker.query("commit");
    await until(() => new Set(heard.flat().map((c) => c.userId)).size === 10);
    // usually one read brings all ten (the horizon is the server's: another database's
    // transaction may split them); one Redis call per read, whatever it brings
    expect(heard.length).toBeLessThan(10);
    expect(cacheOf(b).counts.commands - commands).toBe(heard.length);
  });
});

describe.skipIf(engine !== "pg")("Redis away, two `wallet serve` processes", () => {
  let redis: PrivateRedis | undefined;
  let procs: ServeProcess[] = [];
  let pg: PrivatePostgres | undefined;
  afterEach(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await redis?.stop();
    await pg?.destroy();
  });

  it("wakes a long poll on the other instance within 1 s of each write while Redis is killed", async () => {
    // a PostgreSQL of its own: readers of the change log wait for the oldest open
    // transaction of their server, and other test files' transactions must not count
    pg = await PrivatePostgres.create();
    await pg.psql("create database wallet");
    const env = { DATABASE_URL: pg.url("wallet"), TRANSFER_WORKERS: "0" };
    expect((await runCli(["migrate"], env)).code).toBe(0);
    redis = await PrivateRedis.create();
    Object.assign(env, { REDIS_URL: redis.url });
    procs = await Promise.all([startProcess("serve", env), startProcess("serve", env)]);
    const [a, b] = procs as [ServeProcess, ServeProcess];
    await redis.stop();
    await until(async () => (await redisState(a.url)) === "degraded" && (await redisState(b.url)) === "degraded");
    const users = Array.from({ length: 20 }, (_v, i) => 100 + i);
    // every user's wallet opened on B first, so that each long poll below waits for its deposit
    for (const u of users) expect((await get(b.url, "/api/wallet/balance/v1", u)).status).toBe(200);
    const woken = users.map((u) =>
      get(b.url, "/api/events/v1?after=0&wait=30", u).then((r) => ({ r, at: Date.now() })),
    );
    // every poll has looked, found nothing and is asleep
    const asleep = async () => /wallet_events_long_polls (\d+)/.exec((await get(b.url, "/metrics")).raw.toString());
    await until(async () => Number((await asleep())?.[1]) === users.length);
    // twenty deposits at once on A: several group-commit batches, several rows of the log
    const written = await Promise.all(
      users.map((u) => post(a.url, "/api/deposit/v1", u, { amount: 7 }).then((r) => ({ r, at: Date.now() }))),
    );
    const polls = await Promise.all(woken);
    for (const [i, w] of written.entries()) {
      expect(w.r.status).toBe(200);
      const p = polls[i]!;
      expect(p.r.status).toBe(200);
      expect(p.r.body.events).toMatchObject([{ sequence: 1, type: "deposit" }]);
      expect(p.at - w.at).toBeLessThan(1000);
    }
  });
});
