#!/usr/bin/env node
// The cost of one request in system calls and database round trips: `wallet serve`
// under each scenario with strace -c attached to every thread, and PostgreSQL's
// commit counter for the bench database; both divided by the requests served. The bare
// node:http server is measured the same way, as the floor. strace slows the process
// down a lot: the throughput under it means nothing, the counts per request do.
//   node bench/syscalls.mjs        Env: DURATION (s, default 5), CONCURRENCY (16), REDIS_URL
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  dbUrl,
  dropDb,
  freshDb,
  loadtest,
  log,
  machine,
  psql,
  ROOT,
  serve,
  sh,
  start,
  stop,
  writeResult,
} from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 5);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 16);
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
const DB = `wallet_syscalls_${process.pid}`;
const commits = () => Number(psql("postgres", `select xact_commit from pg_stat_database where datname = '${DB}'`));

/** strace -c on every thread of pid while fn runs; calls per syscall name. */
async function traced(pid, fn) {
  const out = path.join(os.tmpdir(), `strace-${pid}-${Date.now()}.txt`);
  const st = spawn("strace", ["-f", "-c", "-o", out, "-p", String(pid)], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 500));
  const result = await fn();
  const done = new Promise((r) => st.once("exit", r));
  st.kill("SIGINT");
  await done;
  const calls = {};
  for (const line of fs.readFileSync(out, "utf8").split("\n")) {
    const m = /^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$/.exec(line);
    if (m && m[2] !== "total") calls[m[2]] = Number(m[1]);
  }
  fs.rmSync(out, { force: true });
  return { result, calls };
}

function perRequest(calls, requests) {
  const sum = (names) => names.reduce((n, k) => n + (calls[k] ?? 0), 0);
  const r = (n) => Math.round((n / requests) * 100) / 100;
  return {
    requests,
    syscalls: r(Object.values(calls).reduce((a, b) => a + b, 0)),
    writes: r(sum(["write", "writev", "sendto", "sendmsg"])),
    reads: r(sum(["read", "readv", "recvfrom", "recvmsg"])),
    epoll: r(sum(["epoll_wait", "epoll_pwait", "epoll_ctl"])),
    futex: r(sum(["futex"])),
    top: Object.entries(calls)
      .sort((a, b) => b[1] - a[1])
      .slice(0, 6)
      .map(([k, v]) => `${k} ${r(v)}`),
  };
}

async function measure(server, scenario, db) {
  const before = db ? commits() : 0;
  const { result, calls } = await traced(server.child.pid, () =>
    // the ledger checks in SQL (not through the server, which would count them)
    loadtest(server.url, scenario, {
      duration: DURATION,
      concurrency: CONCURRENCY,
      env: db ? { DATABASE_URL: dbUrl(db) } : {},
    }),
  );
  const row = perRequest(calls, result.requests);
  if (db) row.db_commits = Math.round(((commits() - before) / result.requests) * 100) / 100;
  log(`${scenario}: ${JSON.stringify(row)}`);
  return row;
}

const results = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: { DURATION, CONCURRENCY },
  scenarios: {},
};
const S = results.scenarios;
const bare = await start([path.join(ROOT, "bench/bare-server.mjs")], {}, "bare listening");
S["bare GET"] = await measure(bare, "baseline-get");
S["bare POST"] = await measure(bare, "baseline-post");
await stop(bare);
freshDb(DB, 1000);
try {
  let s = await serve(DB, { TRANSFER_WORKERS: "0" });
  for (const sc of ["balance", "deposit", "transfer", "history"]) S[sc] = await measure(s, sc, DB);
  await stop(s);
  const prefix = `wallet-syscalls-${process.pid}:`;
  s = await serve(DB, { TRANSFER_WORKERS: "0", REDIS_URL, REDIS_PREFIX: prefix });
  S["balance (Redis cache)"] = await measure(s, "balance", DB);
  S["deposit (Redis cache)"] = await measure(s, "deposit", DB);
  await stop(s);
  const keys = sh("redis-cli", ["-u", REDIS_URL, "--scan", "--pattern", `${prefix}*`])
    .split("\n")
    .filter(Boolean);
  for (let i = 0; i < keys.length; i += 500) sh("redis-cli", ["-u", REDIS_URL, "del", ...keys.slice(i, i + 500)]);
} finally {
  dropDb(DB);
}
writeResult(`syscalls-${results.date.slice(0, 10)}`, results);
process.stdout.write(JSON.stringify(S, null, 2) + "\n");
