#!/usr/bin/env node
// Runs the project's scenarios and their baselines in one go, on this machine, and
// reports every figure as a ratio to a baseline measured in the same run.
//   node bench/run.mjs            (after npm install; PostgreSQL and Redis on 127.0.0.1)
// Env: DURATION (s, default 10), CONCURRENCY (64), USERS (1000), MEM_SECONDS (120),
//      PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), REDIS_URL (redis://127.0.0.1:6379)
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin/wallet.js");
const DURATION = Number(process.env.DURATION ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const USERS = Number(process.env.USERS ?? 1000);
const MEM_SECONDS = Number(process.env.MEM_SECONDS ?? 120);
const ADMIN = new URL(process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DB = `wallet_bench_${process.pid}`;
const dbUrl = (() => {
  const u = new URL(ADMIN);
  u.pathname = `/${DB}`;
  return u.toString();
})();
const pgArgs = [
  "-h",
  ADMIN.hostname,
  "-p",
  ADMIN.port || "5432",
  "-U",
  decodeURIComponent(ADMIN.username || "postgres"),
];
const log = (...a) => process.stderr.write(a.join(" ") + "\n");

function sh(cmd, args, env = {}) {
  return execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
}
const wallet = (args, env = {}) =>
  sh(process.execPath, [BIN, ...args], { DATABASE_URL: dbUrl, LOG_LEVEL: "warn", ...env });

function pgbench(file, clients = CONCURRENCY) {
  const outText = sh("pgbench", [
    ...pgArgs,
    "-n",
    "-c",
    String(clients),
    "-j",
    "2",
    "-T",
    String(DURATION),
    "-D",
    `users=${USERS}`,
    "-f",
    path.join(ROOT, "bench/sql", file),
    DB,
  ]);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(outText)?.[1]);
  const lat = Number(/latency average = ([\d.]+) ms/.exec(outText)?.[1]);
  return { tps: Math.round(tps), latency_avg_ms: lat };
}

function start(args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        try {
          const j = JSON.parse(line);
          if (j.msg === ready) return resolve({ child, url: `http://127.0.0.1:${j.port}` });
        } catch {
          /* not a JSON line */
        }
      }
    });
    child.on("exit", (c) => reject(new Error(`${args.join(" ")} exited ${c}`)));
  });
}
const stop = (p) =>
  new Promise((r) => (p.child.exitCode !== null ? r() : (p.child.once("exit", r), p.child.kill("SIGTERM"))));
const serve = (env = {}) =>
  start(
    [BIN, "serve"],
    { DATABASE_URL: dbUrl, PORT: "0", RATE_LIMIT_RPS: "0", LOG_LEVEL: "info", ...env },
    "wallet listening",
  );

/** Runs `wallet loadtest --json` as a child process (the event loop stays free for the RSS sampler). */
function loadtest(url, scenario, { duration = DURATION, concurrency = CONCURRENCY } = {}) {
  const args = [BIN, "loadtest", "--api", url, "--scenario", scenario, "--duration", String(duration)];
  args.push("--concurrency", String(concurrency), "--users", String(USERS), "--no-seed", "--json");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, DATABASE_URL: dbUrl, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`loadtest exited ${code}`))));
  });
}

function rss(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round(Number(m[1]) / 1024);
}

const ratio = (a, b) => Math.round((a / b) * 100) / 100;
const results = {
  date: new Date().toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: sh("psql", [...pgArgs, "-tAc", "show server_version", "postgres"]).trim(),
  },
  settings: { duration_s: DURATION, concurrency: CONCURRENCY, users: USERS },
  baselines: {},
  wallet: {},
  ratios: {},
  targets: {},
};

sh("createdb", [...pgArgs, DB]);
try {
  log("schema and", USERS, "wallets");
  wallet(["migrate"]);
  wallet(["seed", "--users", String(USERS), "--balance", "1000000000"]);

  log("baseline: pgbench, the service's own transfer function");
  results.baselines.pgbench_transfer_one = pgbench("transfer_one.sql");
  const b100 = pgbench("transfer_batch100.sql", 8);
  results.baselines.pgbench_transfer_batch100 = { tps: b100.tps, transfers_per_s: b100.tps * 100 };
  results.baselines.pgbench_hot_one = pgbench("hot_one.sql");
  const h100 = pgbench("hot_batch100.sql", 8);
  results.baselines.pgbench_hot_batch100 = { tps: h100.tps, transfers_per_s: h100.tps * 100 };

  log("baseline: bare node:http");
  const bare = await start([path.join(ROOT, "bench/bare-server.mjs")], {}, "bare listening");
  results.baselines.bare_http_get = await loadtest(bare.url, "baseline-get");
  results.baselines.bare_http_post = await loadtest(bare.url, "baseline-post");
  await stop(bare);

  log("wallet serve on PostgreSQL (no Redis)");
  let s = await serve();
  for (const sc of ["transfer", "hot", "deposit", "withdraw", "balance", "history", "mixed", "transfer-async"]) {
    log("  scenario", sc);
    results.wallet[sc] = await loadtest(s.url, sc);
  }
  log("  scenario transfer-async under light load (2 connections): acceptance to completion");
  results.wallet.transfer_async_light = await loadtest(s.url, "transfer-async", { concurrency: 2 });
  await stop(s);

  log("async drain: 100k transfers queued while no worker runs, then 4 workers in one process");
  s = await serve({ TRANSFER_WORKERS: "0" });
  sh("psql", [
    ...pgArgs,
    "-q",
    "-d",
    DB,
    "-c",
    `select count(*) from generate_series(1, 100) b, lateral (select * from wallet_accept_transfers(
      array(select (floor(random() * ${USERS}) + 1)::bigint from generate_series(1, 1000) x where b > 0),
      array(select (floor(random() * ${USERS}) + 1)::bigint from generate_series(1, 1000) x where b > 0),
      array_fill(1::bigint, array[1000]), array_fill(null::text, array[1000]), array_fill(null::text, array[1000]))) a`,
  ]);
  await stop(s);
  const queued = Number(
    sh("psql", [...pgArgs, "-tA", "-d", DB, "-c", "select count(*) from transfers where status = 'pending'"]).trim(),
  );
  const t0 = Date.now();
  const w = await start(
    [BIN, "worker"],
    { DATABASE_URL: dbUrl, LOG_LEVEL: "info", TRANSFER_WORKERS: "4" },
    "wallet worker running",
  );
  for (;;) {
    const left = Number(
      sh("psql", [...pgArgs, "-tA", "-d", DB, "-c", "select count(*) from transfers where status = 'pending'"]).trim(),
    );
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const drainSeconds = (Date.now() - t0) / 1000;
  await stop(w);
  results.wallet.async_drain = { queued, seconds: drainSeconds, transfers_per_s: Math.round(queued / drainSeconds) };

  log("balance reads with and without the Redis cache");
  const prefix = `wallet-bench-${process.pid}:`;
  s = await serve({ REDIS_URL, REDIS_PREFIX: prefix });
  results.wallet.balance_redis_cache = await loadtest(s.url, "balance");
  await stop(s);
  sh("redis-cli", ["-u", REDIS_URL, "--scan", "--pattern", `${prefix}*`])
    .split("\n")
    .filter(Boolean)
    .forEach((k) => sh("redis-cli", ["-u", REDIS_URL, "del", k]));

  log(`memory: mixed load for ${MEM_SECONDS} s`);
  s = await serve();
  const samples = [];
  const timer = setInterval(() => samples.push(rss(s.child.pid)), 5000);
  const mixedLong = await loadtest(s.url, "mixed", { duration: MEM_SECONDS });
  clearInterval(timer);
  await stop(s);
  const third = Math.max(1, Math.floor(samples.length / 3));
  const avg = (xs) => Math.round(xs.reduce((a, b) => a + b, 0) / xs.length);
  results.wallet.memory = {
    rss_mb_samples: samples,
    max_mb: Math.max(...samples),
    first_third_avg_mb: avg(samples.slice(0, third)),
    last_third_avg_mb: avg(samples.slice(-third)),
    mixed_rps: mixedLong.throughput_rps,
  };

  const B = results.baselines;
  const W = results.wallet;
  results.ratios = {
    transfer_v1_vs_pgbench_one: ratio(W.transfer.throughput_rps, B.pgbench_transfer_one.tps),
    async_completion_vs_pgbench_batch100: ratio(
      W["transfer-async"].async.completion_rps,
      B.pgbench_transfer_batch100.transfers_per_s,
    ),
    async_drain_vs_pgbench_batch100: ratio(W.async_drain.transfers_per_s, B.pgbench_transfer_batch100.transfers_per_s),
    hot_vs_pgbench_hot_one: ratio(W.hot.throughput_rps, B.pgbench_hot_one.tps),
    balance_vs_bare_get: ratio(W.balance.throughput_rps, B.bare_http_get.throughput_rps),
    balance_redis_cache_vs_bare_get: ratio(W.balance_redis_cache.throughput_rps, B.bare_http_get.throughput_rps),
    balance_redis_cache_vs_no_cache: ratio(W.balance_redis_cache.throughput_rps, W.balance.throughput_rps),
    deposit_vs_bare_post: ratio(W.deposit.throughput_rps, B.bare_http_post.throughput_rps),
  };
  results.targets = {
    "transfer v1 >= 1.0x pgbench one-statement, p99 < 50 ms":
      results.ratios.transfer_v1_vs_pgbench_one >= 1 && W.transfer.latency_ms.p99 < 50,
    "transfer-async completion >= 0.5x pgbench batched, acceptance p99 < 20 ms":
      results.ratios.async_completion_vs_pgbench_batch100 >= 0.5 && W["transfer-async"].latency_ms.p99 < 20,
    "hot >= 5x pgbench hot one-per-commit": results.ratios.hot_vs_pgbench_hot_one >= 5,
    "balance >= 0.5x bare node:http GET (with the Redis cache)": results.ratios.balance_redis_cache_vs_bare_get >= 0.5,
    "RSS < 300 MB and not growing under mixed load":
      results.wallet.memory.max_mb < 300 &&
      results.wallet.memory.last_third_avg_mb <= results.wallet.memory.first_third_avg_mb * 1.1,
  };
} finally {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", DB]);
}

fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
const file = path.join(ROOT, "bench/results", `${results.date.slice(0, 10)}.json`);
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
fs.writeFileSync(path.join(ROOT, "bench/results/latest.json"), JSON.stringify(results, null, 2) + "\n");
process.stdout.write(JSON.stringify({ ratios: results.ratios, targets: results.targets }, null, 2) + "\n");
log("written", file);
