#!/usr/bin/env node
// Reads on the replica against all on the primary, in one run, on the test harness's
// Patroni cluster (etcd, two PostgreSQL 15 nodes in synchronous mode, HAProxy; see
// test/helpers/patroni.ts): balance and history throughput over HTTP through one
// `wallet serve` with DATABASE_READ_URL unset (every read on the primary) and set
// (HAProxy's replica port), alternating, and the CPU the primary's PostgreSQL
// processes used during each (utime + stime from /proc, before and after).
// READ_CACHE=false on both, so that every read reaches a database (with the cache,
// repeated reads of an unchanged wallet are answered from memory, by either).
// Writes every wallet once before each run, so that the versions are known (a read
// whose wallet version is unknown goes to the primary).
// Rounds alternate which goes first; the summary is each side's median run.
//   node bench/replica.mjs     Env: DURATION (s, default 10), CONCURRENCY (32), USERS (1000), ROUNDS (3)
// Needs patroni, etcd and haproxy (the Debian packages) and root (PostgreSQL runs as postgres).
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Pool } from "undici";
import { runnerImport } from "vite";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const BIN = path.join(ROOT, "bin/wallet.js");
const DURATION = Number(process.env.DURATION ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const USERS = Number(process.env.USERS ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const log = (...a) => process.stderr.write(a.join(" ") + "\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const { module: harness } = await runnerImport(path.join(ROOT, "test/helpers/patroni.ts"), {
  root: ROOT,
  configFile: false,
  logLevel: "silent",
});

/** utime + stime (clock ticks) of a postmaster and its children: the node's PostgreSQL. */
function postgresTicks(dataDir) {
  const pm = Number(fs.readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]);
  let ticks = 0;
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // ended meanwhile
    }
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from the 3rd (state) on
    if (Number(entry) === pm || Number(f[1]) === pm) ticks += Number(f[11]) + Number(f[12]);
  }
  return ticks;
}
const CLK_TCK = 100; // Linux's USER_HZ

function serve(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      env: { ...process.env, PORT: "0", RATE_LIMIT_RPS: "0", LOG_LEVEL: "info", TRANSFER_WORKERS: "0", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    child.stdout.on("data", (d) => {
      for (const line of String(d).split("\n")) {
        try {
          const j = JSON.parse(line);
          if (j.msg === "wallet listening") resolve({ child, base: `http://127.0.0.1:${j.port}` });
        } catch {
          /* not JSON */
        }
      }
    });
    child.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
  });
}

async function stop(s) {
  const exited = new Promise((r) => s.child.once("exit", r));
  s.child.kill("SIGTERM");
  await exited;
}

async function readsBySource(base) {
  const lines = (await (await fetch(`${base}/metrics`)).text()).split("\n");
  const of = (source) => {
    const line = lines.find((l) => l.startsWith(`wallet_db_reads_total{source="${source}"} `));
    return line ? Number(line.split(" ").at(-1)) : 0;
  };
  return { primary: of("primary"), replica: of("replica") };
}

async function drive(base, pathOf) {
  const pool = new Pool(base, { connections: CONCURRENCY });
  let n = 0;
  let errors = 0;
  const until = Date.now() + DURATION * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < until) {
        const user = 1 + Math.floor(Math.random() * USERS);
        const r = await pool.request({ method: "GET", path: pathOf(user), headers: { authorization: String(user) } });
        await r.body.dump();
        if (r.statusCode === 200) n++;
        else errors++;
      }
    }),
  );
  await pool.close();
  return { n, errors };
}

const SCENARIOS = {
  balance: () => "/api/wallet/balance/v1",
  history: () => "/api/transactions/v1?page_size=10",
};

log("building the cluster");
const c = await harness.PatroniCluster.create({ nodes: 2 });
try {
  await c.psql("create database wallet");
  const url = c.writeUrl("wallet");
  const seed = spawn(process.execPath, [BIN, "seed", "--users", String(USERS), "--balance", "1000000"], {
    env: { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "inherit"], // stdout is the result
  });
  await new Promise((r) => seed.on("exit", r));
  // 20 entries per wallet: history pages are full
  for (let i = 0; i < 19; i++) {
    await c.psql(
      `select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD', 'id', wallet_next_id()::text,
         'u', g, 'a', 1 + ${i})) from generate_series(1, ${USERS}) g))`,
      "wallet",
    );
  }
  await c.psql("analyze", "wallet");
  const leader = await c.leader();
  const dataDir = path.join(c.nodes.find((n) => n.name === leader).dir, "data");
  const replicaDir = path.join(c.nodes.find((n) => n.name !== leader).dir, "data");

  const results = { balance: { primary: [], replica: [] }, history: { primary: [], replica: [] } };
  for (let round = 0; round < ROUNDS; round++) {
    for (const where of round % 2 === 0 ? ["primary", "replica"] : ["replica", "primary"]) {
      const env = { DATABASE_URL: url, READ_CACHE: "false", DB_POOL_MAX: "20" };
      if (where === "replica") env.DATABASE_READ_URL = c.readUrl("wallet");
      const s = await serve(env);
      try {
        // one write per wallet, heard by the server's change feed: every version known
        await c.psql(
          `select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD', 'id', wallet_next_id()::text,
             'u', g, 'a', 1)) from generate_series(1, ${USERS}) g))`,
          "wallet",
        );
        await sleep(1500);
        for (const [name, pathOf] of Object.entries(SCENARIOS)) {
          const reads0 = await readsBySource(s.base);
          const t0 = [postgresTicks(dataDir), postgresTicks(replicaDir)];
          const r = await drive(s.base, pathOf);
          const t1 = [postgresTicks(dataDir), postgresTicks(replicaDir)];
          const reads1 = await readsBySource(s.base);
          const entry = {
            reads_per_s: Math.round(r.n / DURATION),
            errors: r.errors,
            primary_cpu_s: (t1[0] - t0[0]) / CLK_TCK,
            primary_cpu_per_10k_reads_s: Number((((t1[0] - t0[0]) / CLK_TCK / r.n) * 10_000).toFixed(3)),
            replica_cpu_s: (t1[1] - t0[1]) / CLK_TCK,
            served_by: { primary: reads1.primary - reads0.primary, replica: reads1.replica - reads0.replica },
          };
          results[name][where].push(entry);
          log(`round ${round + 1} ${name} on ${where}: ${JSON.stringify(entry)}`);
        }
      } finally {
        await stop(s);
      }
    }
  }
  // the median run of each (by reads/s), with the primary's CPU in that run
  const median = (xs) => [...xs].sort((a, b) => a.reads_per_s - b.reads_per_s)[Math.floor((xs.length - 1) / 2)];
  const summary = {};
  for (const name of Object.keys(SCENARIOS)) {
    const p = median(results[name].primary);
    const r = median(results[name].replica);
    summary[name] = {
      primary_only_reads_per_s: p.reads_per_s,
      with_replica_reads_per_s: r.reads_per_s,
      primary_cpu_s_primary_only: p.primary_cpu_s,
      primary_cpu_s_with_replica: r.primary_cpu_s,
      replica_cpu_s_with_replica: r.replica_cpu_s,
    };
  }
  const out = {
    date: new Date().toISOString(),
    machine: { cpus: (await import("node:os")).cpus().length },
    settings: { duration_s: DURATION, concurrency: CONCURRENCY, users: USERS, rounds: ROUNDS, read_cache: false },
    note: "one machine: the load generator, wallet serve and both PostgreSQL nodes share its CPUs",
    summary,
    runs: results,
  };
  const file = path.join(ROOT, "bench/results", `replica-${out.date.slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  console.log(JSON.stringify(out, null, 2));
  log(`written to ${path.relative(ROOT, file)}`);
} finally {
  await c.destroy();
}
