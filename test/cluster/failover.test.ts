/**
 * The wallet on a Patroni cluster (etcd, two PostgreSQL nodes in synchronous mode,
 * HAProxy), with real `wallet serve` processes, Redis and a nats-server of the
 * test's own:
 * - reads from the replica: with its replay delayed, 200 rounds of a write through
 *   one instance then a read through another are never stale; without the delay,
 *   the replica serves what it can (the metric says so);
 * - a planned switchover, then the leader killed, each under 16 clients of
 *   deposits, withdrawals and v1/v2 transfers with amounts of their own: every
 *   acknowledged write is in the ledger exactly once, none twice, money conserved,
 *   every accepted v2 transfer final, `wallet verify` clean, every 5xx a 503 with
 *   Retry-After, the same process serving again within 15 s of the new leader, and
 *   the events stream holding every event exactly once.
 */
import fs from "node:fs";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../../src/core/db/index.js";
import { startLoad } from "../faults/load.js";
import { runCli } from "../helpers/cli.js";
import { PrivateNats } from "../helpers/nats.js";
import { PatroniCluster } from "../helpers/patroni.js";
import { startProcess, type ServeProcess } from "../helpers/process.js";
import { PrivateRedis } from "../helpers/redis.js";
import { get, post } from "../helpers/server.js";
import { checkLedger, sample, streamEqualsJournal, type LedgerReport } from "./checks.js";

const USERS = 20;
const SEED = 1_000_000_000_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let c: PatroniCluster;
let nats: PrivateNats;
let redis: PrivateRedis;
let db: Database; // through the primary port, for the checks
let env: Record<string, string>;
let a: ServeProcess;
const extra: ServeProcess[] = [];
const report: Record<string, unknown> = {};

beforeAll(async () => {
  const t = Date.now();
  c = await PatroniCluster.create({ nodes: 2 });
  await c.psql("create database wallet");
  [nats, redis] = await Promise.all([PrivateNats.create(), PrivateRedis.create()]);
  env = {
    DATABASE_URL: c.writeUrl("wallet"),
    DATABASE_READ_URL: c.readUrl("wallet"),
    REDIS_URL: redis.url,
    REDIS_PREFIX: "wallet-ha-test:",
    NATS_URL: nats.url,
    TRANSFER_WORKERS: "2",
    DB_POOL_MAX: "10",
  };
  const seeded = await runCli(["seed", "--users", String(USERS), "--balance", String(SEED)], env);
  expect(seeded.code, seeded.stderr).toBe(0);
  db = await openDatabase({ databaseUrl: c.writeUrl("wallet"), dataDir: "", poolMax: 2 });
  a = await startProcess("serve", env);
  report.setupMs = Date.now() - t;
});

afterEach((ctx) => {
  if (ctx.task.result?.state !== "fail" || !c) return;
  for (const n of c.nodes) console.error(`--- ${n.name}\n${c.logTail(n.name)}`);
  console.error(`--- serve A\n${a?.logs.slice(-30).join("\n")}`);
});

/** Stops and removes everything (once: a second stop of a killed nats-server or redis-server would wait forever). */
let cleanedUp: Promise<void> | undefined;
const cleanUp = () =>
  (cleanedUp ??= (async () => {
    await Promise.all([a?.stop(), ...extra.map((p) => p.stop())]);
    await db?.close();
    await c?.destroy();
    await Promise.all([nats?.destroy(), redis?.stop()]);
  })());

afterAll(async () => {
  await cleanUp();
  console.info(`failover tests: ${JSON.stringify(report)}`);
});

/** Deposits through the instance until one is answered 200; when. */
async function servedAgain(url: string, timeoutMs = 60_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const r = await post(url, "/api/deposit/v1", 1, { amount: 1 }).catch(() => undefined);
    if (r?.status === 200) return Date.now();
    await sleep(100);
  }
  throw new Error(`not serving writes within ${timeoutMs} ms`);
}

/**
 * 16 clients on instance A while `disrupt` moves the primary (it resolves when the
 * new leader takes writes); then every check.
 */
async function throughDisruption(firstAmount: number, disrupt: () => Promise<void>): Promise<LedgerReport> {
  const load = startLoad(a.url, { clients: 16, users: USERS, firstAmount });
  await sleep(2000);
  const t = Date.now();
  let servedAt = 0;
  let leaderAt = 0;
  try {
    await disrupt();
    leaderAt = Date.now();
    servedAt = await servedAgain(a.url);
    await sleep(1500);
  } finally {
    await load.stop();
  }
  const r = await checkLedger(db, load.sent, firstAmount, firstAmount + 100_000_000);
  const events = await streamEqualsJournal(db, nats);
  const verify = await runCli(["verify", "--json"], { DATABASE_URL: c.writeUrl("wallet") });
  expect(verify.code, verify.stdout + verify.stderr).toBe(0);
  expect(verify.json.violations).toEqual([]);
  expect(a.child.exitCode, "the same serve process").toBeNull();
  expect(servedAt - leaderAt, "serving again after the new leader (ms)").toBeLessThan(15_000);
  expect(r.acknowledged).toBeGreaterThan(200);
  expect(r.asyncAccepted).toBeGreaterThan(20);
  return Object.assign(r, { events, leaderMs: leaderAt - t, servedAfterLeaderMs: servedAt - leaderAt });
}

describe("the wallet on a Patroni cluster", () => {
  it("reads from the replica only when its copy is fresh: 200 writes through A, each read through B, none stale", async () => {
    await c.setReplicaApplyDelay(2000);
    const b = await startProcess("serve", { ...env, TRANSFER_WORKERS: "0", NATS_URL: "" });
    extra.push(b);
    let stale = 0;
    const examples: string[] = [];
    for (let i = 0; i < 200; i++) {
      const user = 1 + (i % USERS);
      const w = await post(a.url, "/api/deposit/v1", user, { amount: 600_000_000 + i });
      expect(w.status, w.raw.toString()).toBe(200);
      const r = await get(b.url, "/api/wallet/balance/v1", user);
      expect(r.status, r.raw.toString()).toBe(200);
      if (r.body.balance !== w.body.balance) {
        stale++;
        if (examples.length < 5) examples.push(`user ${user}: wrote ${w.body.balance}, read ${r.body.balance}`);
      }
    }
    expect(stale, examples.join("; ")).toBe(0);
    let metrics = (await get(b.url, "/metrics")).raw.toString();
    // the replica was asked (healthy: within the lag allowed) and its copy found too old
    const refused = sample(metrics, "wallet_db_replica_fallbacks_total", 'reason="stale"');
    expect(refused).toBeGreaterThan(0);
    report.delayed = {
      staleRefused: refused,
      primary: sample(metrics, "wallet_db_reads_total", 'source="primary"'),
      replica: sample(metrics, "wallet_db_reads_total", 'source="replica"'),
    };

    // without the delay the replica has each write within moments: it serves reads
    await c.setReplicaApplyDelay(0);
    const before = sample(metrics, "wallet_db_reads_total", 'source="replica"');
    for (let i = 0; i < 30; i++) {
      const user = 1 + (i % USERS);
      const w = await post(a.url, "/api/deposit/v1", user, { amount: 700_000_000 + i });
      expect(w.status).toBe(200);
      await sleep(100);
      const bal = await get(b.url, "/api/wallet/balance/v1", user);
      expect(bal.body.balance).toBe(w.body.balance);
      const hist = await get(b.url, "/api/transactions/v1", user);
      expect(hist.body.transactions[0].amount).toBe(700_000_000 + i);
      const ev = await get(b.url, "/api/events/v1?after=0&limit=500", user);
      expect(ev.body.events.at(-1).data.amount).toBe(700_000_000 + i);
    }
    metrics = (await get(b.url, "/metrics")).raw.toString();
    const replicaReads = sample(metrics, "wallet_db_reads_total", 'source="replica"') - before;
    expect(replicaReads).toBeGreaterThan(0);
    expect(sample(metrics, "wallet_db_replica_up", "")).toBe(1);
    report.caughtUp = { replicaReads };
    await b.stop();
  });

  it("keeps every acknowledged write, once, through a planned switchover under load", async () => {
    report.switchover = await throughDisruption(1000, async () => {
      await c.switchover();
    });
  });

  it("keeps every acknowledged write, once, when the leader is killed under load", async () => {
    await c.waitForReplicaStreaming();
    report.kill = await throughDisruption(300_000_000, async () => {
      const killed = await c.killLeader();
      await c.waitForLeader(60_000, killed);
    });
  });

  it("leaves no process or temp dir behind", async () => {
    const processes = [a, ...extra];
    await cleanUp();
    for (const p of processes) expect(p.child.exitCode ?? p.child.signalCode).not.toBeNull();
    expect(c.leftovers()).toEqual([]);
    expect(fs.existsSync(c.dir)).toBe(false);
    expect(fs.existsSync(nats.dir)).toBe(false);
  });
});
