#!/usr/bin/env node
// Deposit latency with Redis up against Redis killed, in the same run: one `wallet
// serve` on PostgreSQL with a private redis-server of its own (never the shared one),
// rounds alternating up / killed at a light and at a full load; the figure is the
// ratio of p99 latencies, killed / up (the target: within 2x).
//   node bench/redis-away.mjs
// Env: DURATION (s per round, 10), ROUNDS (2 of each state per load), USERS (1000),
//      LOADS (concurrencies, "4,64"), WALLET_BIN (another build's bin/wallet.js for the
//      server, e.g. a revision from before a change; default this checkout's),
//      RESULT (file name in bench/results, default redis-away-<date>).
import { spawn } from "node:child_process";
import net from "node:net";
import { BIN, dbUrl, dropDb, freshDb, loadtest, log, machine, ratio, start, stop, writeResult } from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const USERS = Number(process.env.USERS ?? 1000);
const LOADS = (process.env.LOADS ?? "4,64").split(",").map(Number);
const SERVER_BIN = process.env.WALLET_BIN ?? BIN;
const DB = `wallet_bench_redis_${process.pid}`;

const freePort = () =>
  new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** A redis-server of this run's own, started and killed at will (empty at each start). */
function privateRedis(port) {
  let child;
  return {
    url: `redis://127.0.0.1:${port}`,
    start() {
      child = spawn(
        "redis-server",
        ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        {
          stdio: "ignore",
        },
      );
    },
    kill: () =>
      new Promise((r) =>
        child.exitCode !== null || child.signalCode ? r() : (child.once("exit", r), child.kill("SIGKILL")),
      ),
  };
}

async function redisState(url) {
  try {
    // a read, as traffic would: a build from before 2026-12-07 moved its epoch on only when read
    await fetch(`${url}/api/wallet/balance/v1`, { headers: { authorization: "1" } }).then((r) => r.arrayBuffer());
    const r = await fetch(`${url}/readyz`);
    return (await r.json()).redis;
  } catch {
    return "unknown";
  }
}
async function until(what) {
  while (!(await what())) await new Promise((r) => setTimeout(r, 50));
}

const redis = privateRedis(await freePort());
freshDb(DB, USERS);
redis.start();
const server = await start(
  [SERVER_BIN, "serve"],
  {
    DATABASE_URL: dbUrl(DB),
    REDIS_URL: redis.url,
    PORT: "0",
    RATE_LIMIT_RPS: "0",
    TRANSFER_WORKERS: "0",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
  },
  "wallet listening",
);
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  server: SERVER_BIN === BIN ? "this checkout" : SERVER_BIN,
  settings: { duration_s: DURATION, rounds: ROUNDS, users: USERS, loads: LOADS },
  rounds: [],
  summary: {},
};
try {
  await until(async () => (await redisState(server.url)) === "ok");
  for (const concurrency of LOADS) {
    const p99 = { up: [], killed: [] };
    for (let i = 0; i < ROUNDS * 2; i++) {
      const state = i % 2 === 0 ? "up" : "killed";
      if (state === "killed") {
        await redis.kill();
        await until(async () => (await redisState(server.url)) === "degraded");
      } else if (i > 0) {
        redis.start(); // empty
        await until(async () => (await redisState(server.url)) === "ok");
      }
      log(`deposit, ${concurrency} connections, Redis ${state}`);
      const r = await loadtest(server.url, "deposit", { duration: DURATION, concurrency, users: USERS });
      results.rounds.push({
        concurrency,
        redis: state,
        per_s: r.throughput_rps,
        latency_ms: r.latency_ms,
        statuses: r.statuses,
      });
      p99[state].push(r.latency_ms.p99);
    }
    redis.start();
    await until(async () => (await redisState(server.url)) === "ok");
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const up = median(p99.up);
    const killed = median(p99.killed);
    results.summary[`c${concurrency}`] = {
      p99_up_ms: up,
      p99_killed_ms: killed,
      ratio_killed_to_up: ratio(killed, up),
    };
    log(`c${concurrency}: p99 up ${up} ms, killed ${killed} ms: ${ratio(killed, up)}x`);
  }
} finally {
  await stop(server);
  await redis.kill();
  dropDb(DB);
}
const day = results.date.slice(0, 10);
writeResult(process.env.RESULT ?? `redis-away-${day}`, results);
process.stdout.write(JSON.stringify(results.summary, null, 2) + "\n");
