#!/usr/bin/env node
// Compares two revisions' `wallet serve` on the same machine in the same run: each is
// built in a worktree of its own (so edits in this checkout do not disturb a run); for
// each scenario, rounds alternate between the two builds (fresh database, same seed,
// same load generator: the head build's `wallet loadtest`), and the report gives each
// side's median and the ratio head/base.
//   node bench/compare.mjs <base-rev> [scenario ...]      (default scenarios: transfer deposit)
// Env: HEAD_REV (default HEAD). MODE=cpu: instead of throughput, REQUESTS requests per
// scenario (balance, history, transfer, deposit) from an undici client in this process, and
// the CPU per request of the serving process and of the database's backends (utime + stime
// from /proc): on two shared cores the wall clock swings with the machine, CPU far less.
// STATEMENTS=N (MODE=cpu, pg_stat_statements preloaded with track = all): each run also
// lists its top N statements with calls and time per request. MODE=paired: both builds
// serving at once, chunks of requests alternating between them (CHUNKS, CHUNK): the
// machine's swings fall on both alike; ROUNDS such pairs of processes, the median ratio.
// Env: DURATION (s, default 10), ROUNDS (3), CONCURRENCY (64), USERS (1000), PG_ADMIN_URL.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Pool } from "undici";
import { ADMIN, buildRev, dbUrl, log, pgArgs, ROOT, start, stop } from "./lib.mjs";

const [base, ...rest] = process.argv.slice(2);
if (!base) {
  process.stderr.write("usage: node bench/compare.mjs <base-rev> [scenario ...]\n");
  process.exit(2);
}
const scenarios = rest.length ? rest : ["transfer", "deposit"];
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const USERS = Number(process.env.USERS ?? 1000);
/** both builds' admin token: the exchange scenario sets its rates through the admin API */
const BENCH_ADMIN_TOKEN = "compare-bench-admin-token-0123456789abcdef";
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });

const headRev = process.env.HEAD_REV ?? "HEAD";
const trees = [];
function build(rev) {
  const b = buildRev(rev);
  trees.push(b);
  return b.bin;
}
const builds = { base: build(base), head: build(headRev) };

/** a build's `wallet serve` on the database at url (lib.mjs's start: ready when it logs its port) */
const serve = (bin, url) =>
  start(
    [bin, "serve"],
    { DATABASE_URL: url, PORT: "0", RATE_LIMIT_RPS: "0", LOG_LEVEL: "info", ADMIN_TOKEN: BENCH_ADMIN_TOKEN },
    "wallet listening",
  );

// the load generator checks totals over the API (the two schemas differ); each side's
// own `wallet verify` checks its invariants afterwards
function loadtest(url, scenario) {
  const args = [builds.head, "loadtest", "--api", url, "--scenario", scenario, "--duration", String(DURATION)];
  args.push("--concurrency", String(CONCURRENCY), "--users", String(USERS), "--no-seed", "--json");
  const env = { ...process.env, LOG_LEVEL: "warn", WALLET_ADMIN_TOKEN: BENCH_ADMIN_TOKEN };
  delete env.DATABASE_URL;
  return JSON.parse(sh(process.execPath, args, { env }));
}

const MODE = process.env.MODE ?? "throughput";
const REQUESTS = Number(process.env.REQUESTS ?? 10000);
const STATEMENTS = Number(process.env.STATEMENTS ?? 0); // MODE=cpu: the top N statements a request
const ticks = (pid) => {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0; // gone
  }
};
const user = (i) => (i % USERS) + 1;
const post = (p, u, body) => ({
  method: "POST",
  path: p,
  headers: { authorization: String(u), "content-type": "application/json" },
  body: JSON.stringify(body),
});
const REQUEST = {
  balance: (i) => ({ method: "GET", path: "/api/wallet/balance/v1", headers: { authorization: String(user(i)) } }),
  history: (i) => ({
    method: "GET",
    path: "/api/transactions/v1?page_size=20",
    headers: { authorization: String(user(i)) },
  }),
  transfer: (i) => post("/api/transfer/v1", user(i), { destination_user_id: user(i + 1), amount: 1 }),
  deposit: (i) => post("/api/deposit/v1", user(i), { amount: 1 }),
};
async function drive(url, n, next) {
  const pool = new Pool(url, { connections: 32 });
  let i = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (i < n) {
        const r = await pool.request(next(i++));
        const text = await r.body.text();
        if (r.statusCode >= 300) throw new Error(`${r.statusCode} ${text}`);
      }
    }),
  );
  await pool.close();
}
/** The CPU per request of the server and of its database backends for n requests of a scenario. */
async function cpuPerRequest(s, name, scenario) {
  await drive(s.url, 2000, REQUEST.deposit); // every wallet has entries: history pages are full
  await drive(s.url, 2000, REQUEST[scenario]); // warm: JIT, pools, caches
  const backends = sh("psql", [
    ...pgArgs,
    "-d",
    name,
    "-XAtc",
    `select pid from pg_stat_activity where datname = '${name}'`,
  ])
    .split("\n")
    .filter(Boolean);
  const pg = () => backends.reduce((t, p) => t + ticks(p), 0);
  const q = (sql) => sh("psql", [...pgArgs, "-d", ADMIN.pathname.slice(1), "-XAtc", sql]); // where the extension is
  if (STATEMENTS)
    q(`select pg_stat_statements_reset(0::oid, (select oid from pg_database where datname = '${name}'), 0::bigint)`);
  const [n0, p0] = [ticks(s.child.pid), pg()];
  await drive(s.url, REQUESTS, REQUEST[scenario]);
  const per = (t) => Math.round((t * 10_000) / REQUESTS);
  const r = { node_us: per(ticks(s.child.pid) - n0), pg_us: per(pg() - p0) };
  if (STATEMENTS) {
    // where the database's time goes: statements (nested ones too, with track = all) by
    // time, calls and time per request; needs pg_stat_statements preloaded
    r.statements = JSON.parse(
      q(`select coalesce(json_agg(t), '[]') from (select round((calls::numeric / ${REQUESTS}), 3) as calls_per_request,
           round((total_exec_time * 1000 / ${REQUESTS})::numeric, 1) as exec_us_per_request,
           round((total_plan_time * 1000 / ${REQUESTS})::numeric, 1) as plan_us_per_request,
           left(regexp_replace(query, '\\s+', ' ', 'g'), 160) as query
         from pg_stat_statements where dbid = (select oid from pg_database where datname = '${name}')
         order by total_exec_time desc limit ${STATEMENTS}) t`),
    );
  }
  return r;
}

const results = {
  date: new Date().toISOString(),
  mode: MODE,
  base,
  head: headRev,
  settings:
    MODE === "cpu"
      ? { REQUESTS, ROUNDS, CONCURRENCY: 32, USERS }
      : MODE === "paired"
        ? {
            ROUNDS,
            CHUNKS: Number(process.env.CHUNKS ?? 30),
            CHUNK: Number(process.env.CHUNK ?? 2000),
            CONCURRENCY: 32,
            USERS,
          }
        : { DURATION, ROUNDS, CONCURRENCY, USERS },
  scenarios: {},
};
/**
 * MODE=paired: both builds serve at once, each on a database of its own, and CHUNKS
 * pairs of CHUNK requests alternate between them (which goes first alternates too), so
 * that whatever the machine does meanwhile falls on both alike. Per pair, the ratio of
 * the CPU per request (server and backends); reported: the ratio of the totals and the
 * pairs' median and quartiles.
 */
async function paired(scenario) {
  const CHUNKS = Number(process.env.CHUNKS ?? 30);
  const CHUNK = Number(process.env.CHUNK ?? 2000);
  const sides = {};
  try {
    for (const side of ["base", "head"]) {
      const name = `wallet_cmp_${process.pid}_${side}`;
      sh("createdb", [...pgArgs, name]);
      const url = dbUrl(name);
      const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" };
      sh(process.execPath, [builds[side], "migrate"], { env });
      sh(process.execPath, [builds[side], "seed", "--users", String(USERS), "--balance", "1000000000"], { env });
      sides[side] = { name, s: await serve(builds[side], url), node: [], pg: [] };
    }
    for (const side of ["base", "head"]) {
      const x = sides[side];
      await drive(x.s.url, 2000, REQUEST.deposit); // every wallet has entries: history pages are full
      await drive(x.s.url, 2000, REQUEST[scenario]); // warm: JIT, pools, caches
      const backends = sh("psql", [
        ...pgArgs,
        "-d",
        x.name,
        "-XAtc",
        `select pid from pg_stat_activity where datname = '${x.name}'`,
      ]);
      x.backends = backends.split("\n").filter(Boolean);
    }
    for (let c = 0; c < CHUNKS; c++) {
      for (const side of c % 2 === 0 ? ["base", "head"] : ["head", "base"]) {
        const x = sides[side];
        const pg = () => x.backends.reduce((t, p) => t + ticks(p), 0);
        const [n0, p0] = [ticks(x.s.child.pid), pg()];
        await drive(x.s.url, CHUNK, REQUEST[scenario]);
        x.node.push(ticks(x.s.child.pid) - n0);
        x.pg.push(pg() - p0);
      }
    }
  } finally {
    for (const x of Object.values(sides)) {
      await stop(x.s);
      sh("dropdb", [...pgArgs, "--if-exists", "--force", x.name]);
    }
  }
  const sum = (xs) => xs.reduce((a, b) => a + b, 0);
  const us = (t) => Math.round((t * 10_000 * 10) / (CHUNKS * CHUNK)) / 10; // ticks are 10 ms
  const q = (xs, f) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) * f)];
  const r2 = (v) => Math.round(v * 100) / 100;
  const out = { chunks: CHUNKS, chunk: CHUNK };
  for (const k of ["node", "pg"]) {
    const b = sides.base[k];
    const h = sides.head[k];
    const pairs = b.map((v, i) => (h[i] + v === 0 ? 1 : (h[i] + 0.5) / (v + 0.5)));
    out[k] = {
      base_us: us(sum(b)),
      head_us: us(sum(h)),
      ratio: sum(b) ? r2(sum(h) / sum(b)) : null,
      pairs: { q1: r2(q(pairs, 0.25)), median: r2(q(pairs, 0.5)), q3: r2(q(pairs, 0.75)) },
    };
  }
  log(
    `${scenario}: node ${out.node.base_us} -> ${out.node.head_us} µs (${out.node.ratio}x), pg ${out.pg.base_us} -> ${out.pg.head_us} µs`,
  );
  return out;
}

try {
  for (const scenario of scenarios) {
    if (MODE === "paired") {
      // each pair of processes is one draw of the JIT's and the scheduler's luck: ROUNDS of them
      const runs = [];
      for (let round = 0; round < ROUNDS; round++) runs.push(await paired(scenario));
      const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const of = (k) => ({
        base_us: median(runs.map((r) => r[k].base_us)),
        head_us: median(runs.map((r) => r[k].head_us)),
        ratios: runs.map((r) => r[k].ratio),
        median_ratio: median(runs.map((r) => r[k].ratio ?? 1)),
      });
      results.scenarios[scenario] = { node: of("node"), pg: of("pg"), runs };
      log(`${scenario}: node ratios ${of("node").ratios.join(" ")} (median ${of("node").median_ratio}x)`);
      continue;
    }
    const runs = { base: [], head: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which goes first, so that neither always meets a warmer machine
      const order = round % 2 === 0 ? ["base", "head"] : ["head", "base"];
      for (const side of order) {
        const name = `wallet_cmp_${process.pid}_${side}`;
        sh("createdb", [...pgArgs, name]);
        try {
          const url = dbUrl(name);
          const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" };
          sh(process.execPath, [builds[side], "migrate"], { env });
          sh(process.execPath, [builds[side], "seed", "--users", String(USERS), "--balance", "1000000000"], { env });
          const s = await serve(builds[side], url);
          if (MODE === "cpu") {
            const r = await cpuPerRequest(s, name, scenario);
            await stop(s);
            runs[side].push(r);
            log(`${scenario} round ${round + 1} ${side}: node ${r.node_us} µs, pg ${r.pg_us} µs a request`);
            continue;
          }
          const r = loadtest(s.url, scenario);
          await stop(s);
          if (!r.ledger?.ok) throw new Error(`${side} ${scenario}: ledger check failed ${JSON.stringify(r.ledger)}`);
          sh(process.execPath, [builds[side], "verify"], { env }); // exits 1 on a violation
          runs[side].push({ rps: r.throughput_rps, p99_ms: r.latency_ms.p99 });
          log(`${scenario} round ${round + 1} ${side}: ${r.throughput_rps}/s p99 ${r.latency_ms.p99} ms`);
        } finally {
          sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
        }
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    if (MODE === "cpu") {
      const m = (side, k) => median(runs[side].map((r) => r[k]));
      const ratio = (k) => Math.round((m("head", k) / m("base", k)) * 100) / 100;
      results.scenarios[scenario] = {
        runs,
        base_median: { node_us: m("base", "node_us"), pg_us: m("base", "pg_us") },
        head_median: { node_us: m("head", "node_us"), pg_us: m("head", "pg_us") },
        ratio: { node: ratio("node_us"), pg: ratio("pg_us") },
      };
      continue;
    }
    const b = median(runs.base.map((r) => r.rps));
    const h = median(runs.head.map((r) => r.rps));
    results.scenarios[scenario] = {
      runs,
      base_median_rps: b,
      head_median_rps: h,
      ratio: Math.round((h / b) * 1000) / 1000,
    };
  }
} catch (err) {
  // what was measured before the failure is kept (and says so)
  results.failed = {
    scenario: scenarios[Object.keys(results.scenarios).length],
    error: String(err?.message ?? err).slice(0, 500),
  };
  process.exitCode = 1;
  log(String(err?.stack ?? err));
} finally {
  for (const tree of trees) tree.remove();
}
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
const tag = MODE === "throughput" ? "" : `${MODE}-`;
const named = scenarios.length > 4 ? `${scenarios.length}-scenarios` : scenarios.join("-");
const file = path.join(ROOT, "bench/results", `compare-${tag}${results.date.slice(0, 10)}-${named}.json`);
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
process.stdout.write(JSON.stringify(results.scenarios, null, 2) + "\n");
log("written", file);
