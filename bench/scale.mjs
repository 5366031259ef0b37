#!/usr/bin/env node
// Growth: the same scenarios on a small database and on a big one, same run, same machine.
//   node bench/scale.mjs          (after npm run build; PostgreSQL on 127.0.0.1, trust auth)
// Builds two fresh databases with `wallet seed --entries` (small: SMALL_USERS wallets x 10
// entries; big: BIG_USERS wallets, BIG_ENTRIES entries, wallet 1 holding DEEP of them), runs
// `wallet loadtest` (transfer v1, balance, history) against `wallet serve` on each, then
// pages the deep wallet's history near its top and ~90,000 entries down. Writes
// bench/results/scale-<date>.json. Env: DURATION (s per scenario, 10), CONCURRENCY (64),
// ROUNDS (2), SMALL_USERS (1000), BIG_USERS (1000000), BIG_ENTRIES (10000000), DEEP (100000),
// PG_ADMIN_URL (postgres://postgres@127.0.0.1:5432/postgres), KEEP=1 keeps the databases.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin/wallet.js");
const env = (k, d) => Number(process.env[k] ?? d);
const DURATION = env("DURATION", 10);
const CONCURRENCY = env("CONCURRENCY", 64);
const SMALL_USERS = env("SMALL_USERS", 1000);
const BIG_USERS = env("BIG_USERS", 1_000_000);
const BIG_ENTRIES = env("BIG_ENTRIES", 10_000_000);
const DEEP = env("DEEP", 100_000);
const ROUNDS = env("ROUNDS", 2);
const DEPTH = Math.round(DEEP * 0.9); // the deep page: this many entries below the top
const ADMIN = new URL(process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
const pgArgs = ["-h", ADMIN.hostname, "-p", ADMIN.port || "5432", "-U", decodeURIComponent(ADMIN.username)];
const log = (...a) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${a.join(" ")}\n`);
const sh = (cmd, args, extra = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...extra }, maxBuffer: 64 << 20 });
const urlOf = (db) => Object.assign(new URL(ADMIN), { pathname: `/${db}` }).toString();
const psql = (db, sql) => sh("psql", [...pgArgs, "-XtAc", sql, db]).trim();
const wallet = (db, args) => sh(process.execPath, [BIN, ...args], { DATABASE_URL: urlOf(db), LOG_LEVEL: "warn" });
const timed = (f) => {
  const t = performance.now();
  const value = f();
  return { value, seconds: Math.round((performance.now() - t) / 100) / 10 };
};
const ratio = (a, b) => Math.round((a / b) * 100) / 100;

function serve(db) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      env: { ...process.env, DATABASE_URL: urlOf(db), PORT: "0", RATE_LIMIT_RPS: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        if (line.includes('"wallet listening"')) resolve({ child, url: `http://127.0.0.1:${JSON.parse(line).port}` });
      }
    });
    child.on("exit", (c) => reject(new Error(`wallet serve exited ${c}`)));
  });
}
const stop = (s) => new Promise((r) => (s.child.once("exit", r), s.child.kill("SIGTERM")));

/** `wallet loadtest --json` in its own process, on wallets first..first+users-1 (already seeded). */
function loadtest(url, scenario, users, first, duration = DURATION) {
  const args = [BIN, "loadtest", "--api", url, "--scenario", scenario, "--duration", String(duration)];
  args.push("--concurrency", String(CONCURRENCY), "--users", String(users), "--first", String(first));
  args.push("--no-seed", "--no-check", "--json");
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env: { ...process.env, LOG_LEVEL: "warn" }, stdio: "pipe" });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.on("exit", (code) =>
      code === 0 ? resolve(summary(JSON.parse(text))) : reject(new Error(`loadtest ${code}`)),
    );
  });
}
const summary = (r) => ({
  rps: r.throughput_rps,
  p50_ms: r.latency_ms.p50,
  p99_ms: r.latency_ms.p99,
  requests: r.requests,
  errors: Object.values(r.errors ?? {}).reduce((a, b) => a + b, 0),
});

/** GETs of pathOf(i) (i counts requests) as one user, CONCURRENCY in flight, for DURATION s. */
async function pages(url, user, pathOf) {
  const pool = new Pool(url, { connections: CONCURRENCY, pipelining: 1 });
  const lat = [];
  let i = 0;
  let bad = 0;
  const end = Date.now() + DURATION * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < end) {
        const t = performance.now();
        const r = await pool.request({ method: "GET", path: pathOf(i++), headers: { authorization: String(user) } });
        const body = await r.body.text();
        if (r.statusCode !== 200 || !body.startsWith('{"transactions":[{')) bad++;
        lat.push(performance.now() - t);
      }
    }),
  );
  await pool.close();
  lat.sort((a, b) => a - b);
  const q = (p) => Math.round(lat[Math.floor((lat.length - 1) * p)] * 10) / 10;
  return { rps: Math.round(lat.length / DURATION), p50_ms: q(0.5), p99_ms: q(0.99), requests: lat.length, errors: bad };
}

/** The server's cache lookups (hit, miss) and PostgreSQL's block reads (in shared buffers, from outside). */
async function counters(url, db) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const count = (result) =>
    Number(new RegExp(`wallet_cache_requests_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
  const [hit, read] = psql(db, `select blks_hit, blks_read from pg_stat_database where datname = '${db}'`).split("|");
  return { cacheHit: count("hit"), cacheMiss: count("miss"), blksHit: Number(hit), blksRead: Number(read) };
}
const since = (a, b) => {
  const lookups = b.cacheHit - a.cacheHit + b.cacheMiss - a.cacheMiss;
  const blocks = b.blksHit - a.blksHit + b.blksRead - a.blksRead;
  return {
    cache_hit_ratio: lookups ? Math.round(((b.cacheHit - a.cacheHit) / lookups) * 100) / 100 : null,
    pg_blocks_read_outside_shared_buffers: b.blksRead - a.blksRead,
    pg_shared_buffer_hit_ratio: blocks ? Math.round(((b.blksHit - a.blksHit) / blocks) * 1000) / 1000 : null,
  };
};

/** The history statement's plan and buffers, as the service sends it (store/wallets.ts readHistory). */
function explain(db, user, where, offset) {
  const sql = `explain (analyze, buffers, format json) select j.seq, j.id, j.kind, j.amount, j.balance_after
    from journal j where j.user_id = ${user} and j.kind is not null ${where} order by j.seq desc limit 11 offset ${offset}`;
  const [plan] = JSON.parse(psql(db, sql));
  return {
    execution_ms: plan["Execution Time"],
    shared_buffers: plan.Plan["Shared Hit Blocks"] + plan.Plan["Shared Read Blocks"],
  };
}

const stamp = new Date().toISOString().slice(0, 10);
const SMALL = `wallet_scale_small_${process.pid}`;
const BIG = `wallet_scale_big_${process.pid}`;
const results = {
  date: new Date().toISOString(),
  machine: {
    ...{ cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gib: Math.round(os.totalmem() / 2 ** 30) },
    ...{ node: process.version, postgres: psql("postgres", "show server_version") },
    // other work on the machine: the runs alternate so that it falls on every variant alike
    load_average_before: os.loadavg().map((x) => Math.round(x * 10) / 10),
  },
  settings: { DURATION, ROUNDS, CONCURRENCY, SMALL_USERS, BIG_USERS, BIG_ENTRIES, DEEP },
  ...{ seed: {}, small: {}, big: {}, big_working_set_1000: {}, deep: {}, ratios: {} },
};

for (const db of [SMALL, BIG]) sh("createdb", [...pgArgs, db]);
try {
  log(`seeding ${SMALL}: ${SMALL_USERS} wallets x 10 entries`);
  wallet(SMALL, ["seed", "--users", String(SMALL_USERS), "--balance", "10000", "--entries", String(SMALL_USERS * 10)]);
  wallet(BIG, ["migrate"]);
  const wal0 = psql(BIG, "select pg_current_wal_lsn()");
  const size0 = Number(psql(BIG, "select pg_database_size(current_database())"));
  log(`seeding ${BIG}: ${BIG_USERS} wallets, ${BIG_ENTRIES} entries (wallet 1: ${DEEP})`);
  const seeded = timed(() =>
    wallet(
      BIG,
      ["seed", "--users", String(BIG_USERS), "--balance", "10000", "--entries", String(BIG_ENTRIES)].concat([
        "--deep",
        String(DEEP),
        "--json",
      ]),
    ),
  );
  const mib = (sql) => Math.round(Number(psql(BIG, sql)) / 2 ** 20);
  results.seed = {
    ...JSON.parse(seeded.value),
    seconds: seeded.seconds,
    database_mib: mib("select pg_database_size(current_database())") - Math.round(size0 / 2 ** 20),
    journal_mib: mib("select pg_total_relation_size('journal')"),
    journal_indexes_mib: mib("select pg_indexes_size('journal')"),
    wallets_mib: mib("select pg_total_relation_size('wallets')"),
    wal_written_mib: mib(`select pg_wal_lsn_diff(pg_current_wal_lsn(), '${wal0}')`),
  };
  log(`seeded in ${seeded.seconds} s; verifying`);
  psql(BIG, "vacuum analyze");
  const verified = timed(() => wallet(BIG, ["verify"]));
  results.seed.verify = { seconds: verified.seconds, output: verified.value.trim() };
  log(verified.value.trim(), `(${verified.seconds} s)`);

  // both servers up at once; the runs alternate small, big, big with 1,000 wallets, scenario by
  // scenario, ROUNDS times, so that drift on a shared machine falls on all alike
  const small = await serve(SMALL);
  const big = await serve(BIG);
  try {
    const variants = [
      ["small", small.url, SMALL_USERS, 1],
      ["big", big.url, BIG_USERS - 1, 2],
      // the same 1,000-wallet working set as the small database: the database's size alone
      ["big_working_set_1000", big.url, 1000, Math.floor(BIG_USERS / 2)],
    ];
    for (const [, url, users, first] of variants) await loadtest(url, "transfer", users, first, 3); // warm-up
    for (let round = 0; round < ROUNDS; round++) {
      for (const sc of ["transfer", "balance", "history"]) {
        for (const [name, url, users, first] of variants) {
          log(`round ${round + 1}: ${name} ${sc}`);
          const before = await counters(url, name === "small" ? SMALL : BIG);
          const run = await loadtest(url, sc, users, first);
          (results[name][sc] ??= []).push({
            ...run,
            ...since(before, await counters(url, name === "small" ? SMALL : BIG)),
          });
        }
      }
    }
    // the deep wallet (1): its seq runs 1..DEEP; a cursor is the seq to read below
    const first = await fetch(`${big.url}/api/transactions/v1?page_size=1`, { headers: { authorization: "1" } });
    const top = Number((await first.json()).next_cursor);
    const H = "/api/transactions/v1?";
    // each (cursor, page_size) once: never served from the cache, every page read from PostgreSQL
    const fresh = (from) => (i) => `${H}cursor=${from - Math.floor(i / 11)}&page_size=${10 + (i % 11)}`;
    const size = (i) => 10 + (i % 11);
    const plan = [
      ["first_page_cached", () => `${H}page_size=10`],
      ["deep_cursor_cached", () => `${H}page_size=10&cursor=${top - DEPTH}`],
      ["near_top_cursor", fresh(top + 1)],
      ["deep_cursor", fresh(top - DEPTH)],
      [
        "deep_offset",
        (i) => `${H}page_size=${size(i)}&page=${Math.floor(DEPTH / size(i)) + (Math.floor(i / 11) % 400)}`,
      ],
    ];
    for (let round = 0; round < ROUNDS; round++) {
      for (const [k, pathOf] of plan) {
        log(`round ${round + 1}: deep wallet ${k}`);
        (results.deep[k] ??= []).push(await pages(big.url, 1, pathOf));
      }
    }
    results.deep.explain = {
      first_page: explain(BIG, 1, "", 0),
      deep_cursor: explain(BIG, 1, `and j.seq < ${top - DEPTH}`, 0),
      deep_offset: explain(BIG, 1, "", DEPTH),
    };
  } finally {
    await Promise.all([stop(small), stop(big)]);
  }
  const rps = (runs) => Math.round(runs.reduce((a, r) => a + r.rps, 0) / runs.length);
  for (const sc of ["transfer", "balance", "history"]) {
    const base = rps(results.small[sc]);
    results.ratios[`${sc}_big_vs_small`] = ratio(rps(results.big[sc]), base);
    results.ratios[`${sc}_big_1000_wallets_vs_small`] = ratio(rps(results.big_working_set_1000[sc]), base);
  }
  const d = results.deep;
  results.ratios.deep_vs_first_cached = ratio(rps(d.deep_cursor_cached), rps(d.first_page_cached));
  results.ratios.deep_vs_near_top_uncached = ratio(rps(d.deep_cursor), rps(d.near_top_cursor));
  results.ratios.deep_offset_vs_near_top_uncached = ratio(rps(d.deep_offset), rps(d.near_top_cursor));
  results.machine.load_average_after = os.loadavg().map((x) => Math.round(x * 10) / 10);
  log("verifying after the load");
  results.verify_after = { small: wallet(SMALL, ["verify"]).trim(), big: timed(() => wallet(BIG, ["verify"]).trim()) };
} finally {
  if (!process.env.KEEP) for (const db of [SMALL, BIG]) sh("dropdb", [...pgArgs, "--if-exists", db]);
}
const file = path.join(ROOT, `bench/results/scale-${stamp}.json`);
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
log(`wrote ${file}`);
console.log(JSON.stringify({ seed: results.seed, ratios: results.ratios }, null, 2));
