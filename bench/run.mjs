#!/usr/bin/env node
// Runs the project's scenarios and their baselines in one go, on this machine, and
// reports every figure as a ratio to a baseline measured in the same run.
//   node bench/run.mjs            (after npm install; PostgreSQL and Redis on 127.0.0.1)
// Env: DURATION (s, default 10), CONCURRENCY (64), USERS (1000), MEM_SECONDS (120),
//      PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), REDIS_URL (redis://127.0.0.1:6379),
//      ONLY (comma-separated parts: sql,bare,pg,drain,redis,pglite,memory; default all)
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  dbUrl,
  drainQueue,
  dropDb,
  freshDb,
  loadtest,
  log,
  machine,
  pgArgs,
  pgbench,
  ratio,
  ROOT,
  rssMb,
  serve,
  sh,
  start,
  stop,
  writeResult,
} from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const USERS = Number(process.env.USERS ?? 1000);
const MEM_SECONDS = Number(process.env.MEM_SECONDS ?? 120);
// the drain's worker loops (`wallet worker`, TRANSFER_WORKERS)
const DRAIN_WORKERS = Number(process.env.DRAIN_WORKERS ?? 4);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const ONLY = new Set((process.env.ONLY ?? "sql,bare,pg,drain,redis,pglite,memory").split(","));
const DB = `wallet_bench_${process.pid}`;
const opts = { duration: DURATION, concurrency: CONCURRENCY, users: USERS, env: { DATABASE_URL: dbUrl(DB) } };
// pgbench runs on a database of its own: minimal_transfer moves balances without a journal
const SQL_DB = `${DB}_sql`;
const one = (file) => pgbench(SQL_DB, file, { duration: DURATION, users: USERS });
const batch = (file) => pgbench(SQL_DB, file, { duration: DURATION, users: USERS, clients: 8, per: 100 });

const results = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: { duration_s: DURATION, concurrency: CONCURRENCY, users: USERS },
  baselines: {},
  wallet: {},
  pglite: {},
};
const B = results.baselines;
const W = results.wallet;

freshDb(DB, USERS);
try {
  if (ONLY.has("sql")) {
    log("baseline: pgbench, the minimal transfer function and the service's own");
    freshDb(SQL_DB, USERS);
    try {
      sh("psql", [...pgArgs, "-d", SQL_DB, "-XAtq", "-f", path.join(ROOT, "bench/sql/minimal.sql")]);
      B.minimal_one = one("minimal_one.sql");
      B.minimal_batch100 = batch("minimal_batch100.sql");
      B.wallet_apply_one = one("transfer_one_fixedid.sql");
      B.wallet_apply_batch100 = batch("transfer_batch100_fixedid.sql");
      B.hot_one = one("hot_one.sql");
      B.hot_batch100 = batch("hot_batch100.sql");
    } finally {
      dropDb(SQL_DB);
    }
  }
  if (ONLY.has("bare")) {
    log("baseline: bare node:http");
    const bare = await start([path.join(ROOT, "bench/bare-server.mjs")], {}, "bare listening");
    B.bare_http_get = await loadtest(bare.url, "baseline-get", opts);
    B.bare_http_post = await loadtest(bare.url, "baseline-post", opts);
    await stop(bare);
  }
  if (ONLY.has("pg")) {
    log("wallet serve on PostgreSQL (no Redis)");
    const s = await serve(DB);
    for (const sc of [
      "transfer",
      "hot",
      "deposit",
      "withdraw",
      "balance",
      "history",
      "mixed",
      "holds",
      "transfer-async",
    ]) {
      log("  scenario", sc);
      W[sc] = await loadtest(s.url, sc, opts);
    }
    log("  transfer-async under light load (2 connections): acceptance to completion");
    W.transfer_async_light = await loadtest(s.url, "transfer-async", { ...opts, concurrency: 2 });
    await stop(s);
    log("wallet serve on PostgreSQL without any read cache (READ_CACHE=false): every read from the database");
    const u = await serve(DB, { READ_CACHE: "false" });
    W.balance_uncached = await loadtest(u.url, "balance", opts);
    W.history_uncached = await loadtest(u.url, "history", opts);
    await stop(u);
  }
  if (ONLY.has("drain")) {
    log(`async drain: 100k transfers accepted while no worker runs, then \`wallet worker\` (${DRAIN_WORKERS} loops)`);
    const d = await drainQueue(DB, { users: USERS, loops: DRAIN_WORKERS });
    W.async_drain = { queued: d.queued, seconds: d.seconds, loops: DRAIN_WORKERS, transfers_per_s: d.per_s };
  }
  if (ONLY.has("redis")) {
    log("balance reads and deposits with the Redis cache");
    const prefix = `wallet-bench-${process.pid}:`;
    const s = await serve(DB, { REDIS_URL, REDIS_PREFIX: prefix });
    W.balance_redis_cache = await loadtest(s.url, "balance", opts);
    W.deposit_redis = await loadtest(s.url, "deposit", opts);
    await stop(s);
    const keys = sh("redis-cli", ["-u", REDIS_URL, "--scan", "--pattern", `${prefix}*`])
      .split("\n")
      .filter(Boolean);
    for (let i = 0; i < keys.length; i += 500) sh("redis-cli", ["-u", REDIS_URL, "del", ...keys.slice(i, i + 500)]);
  }
  if (ONLY.has("pglite")) {
    log("the embedded default (PGlite): served by `wallet serve`, and in one process with the load");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-bench-pglite-"));
    const s = await serve(null, { WALLET_DATA_DIR: dir });
    const lite = { ...opts, env: { DATABASE_URL: undefined } };
    results.pglite.served_transfer = await loadtest(s.url, "transfer", { ...lite, seed: true });
    for (const sc of ["deposit", "balance", "history"])
      results.pglite[`served_${sc}`] = await loadtest(s.url, sc, lite);
    await stop(s);
    fs.rmSync(dir, { recursive: true, force: true });
    results.pglite.in_process_transfer = await loadtest(null, "transfer", { ...lite, seed: true });
    results.pglite.in_process_balance = await loadtest(null, "balance", { ...lite, seed: true });
  }
  if (ONLY.has("memory")) {
    log(`memory: mixed load for ${MEM_SECONDS} s`);
    const s = await serve(DB);
    const samples = [];
    const timer = setInterval(() => samples.push(rssMb(s.child.pid)), 5000);
    const mixed = await loadtest(s.url, "mixed", { ...opts, duration: MEM_SECONDS });
    clearInterval(timer);
    await stop(s);
    const third = Math.max(1, Math.floor(samples.length / 3));
    const avg = (xs) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
    W.memory = {
      rss_mb_samples: samples,
      max_mb: Math.max(...samples),
      first_third_avg_mb: avg(samples.slice(0, third)),
      last_third_avg_mb: avg(samples.slice(-third)),
      mixed_rps: mixed.throughput_rps,
    };
  }
} finally {
  dropDb(DB);
}

const rps = (x) => x?.throughput_rps;
const r = (a, b) => (a && b ? ratio(a, b) : null);
results.ratios = {
  wallet_apply_vs_minimal_one: r(B.wallet_apply_one?.per_s, B.minimal_one?.per_s),
  wallet_apply_vs_minimal_batch100: r(B.wallet_apply_batch100?.per_s, B.minimal_batch100?.per_s),
  transfer_v1_vs_minimal_one: r(rps(W.transfer), B.minimal_one?.per_s),
  transfer_v1_vs_wallet_apply_one: r(rps(W.transfer), B.wallet_apply_one?.per_s),
  hot_vs_pgbench_hot_one: r(rps(W.hot), B.hot_one?.per_s),
  async_completion_vs_wallet_apply_batch100: r(
    W["transfer-async"]?.async?.completion_rps,
    B.wallet_apply_batch100?.per_s,
  ),
  async_drain_vs_wallet_apply_batch100: r(W.async_drain?.transfers_per_s, B.wallet_apply_batch100?.per_s),
  balance_redis_cache_vs_bare_get: r(rps(W.balance_redis_cache), rps(B.bare_http_get)),
  balance_in_process_cache_vs_bare_get: r(rps(W.balance), rps(B.bare_http_get)),
  balance_uncached_vs_bare_get: r(rps(W.balance_uncached), rps(B.bare_http_get)),
  deposit_vs_bare_post: r(rps(W.deposit), rps(B.bare_http_post)),
  pglite_served_transfer_vs_pg: r(rps(results.pglite.served_transfer), rps(W.transfer)),
  pglite_served_balance_vs_pg: r(rps(results.pglite.served_balance), rps(W.balance)),
};
const R = results.ratios;
const met = (v, t) => (v === null || v === undefined ? null : v >= t);
results.targets = {
  "wallet_apply >= 0.7x minimal, one per commit": met(R.wallet_apply_vs_minimal_one, 0.7),
  "wallet_apply >= 0.7x minimal, 100 per commit": met(R.wallet_apply_vs_minimal_batch100, 0.7),
  "transfer v1 over HTTP >= 1.0x minimal one per commit": met(R.transfer_v1_vs_minimal_one, 1),
  "balance (Redis cache) >= 0.5x bare GET": met(R.balance_redis_cache_vs_bare_get, 0.5),
  "balance (no cache) >= 0.3x bare GET": met(R.balance_uncached_vs_bare_get, 0.3),
  "deposit >= 0.35x bare POST": met(R.deposit_vs_bare_post, 0.35),
  "async completion >= 0.7x wallet_apply batched": met(R.async_completion_vs_wallet_apply_batch100, 0.7),
  "RSS < 300 MB and flat under mixed load": W.memory
    ? W.memory.max_mb < 300 && W.memory.last_third_avg_mb <= W.memory.first_third_avg_mb * 1.1
    : null,
};
const file = writeResult(results.date.slice(0, 10), results);
fs.copyFileSync(file, path.join(ROOT, "bench/results/latest.json"));
process.stdout.write(JSON.stringify({ ratios: results.ratios, targets: results.targets }, null, 2) + "\n");
