#!/usr/bin/env node
// Where PostgreSQL's CPU goes in the database's floor, by C function: the minimal
// transfer function and wallet_apply, each batched 100 a call on one connection (as
// bench/cpu.mjs measures them), with `perf record` on that connection's backend. The
// server's binary is stripped, but the functions it exports (most of them: extensions
// link against them) resolve. Writes bench/results/profiles/perf-pg-<name>-<date>.txt
// (self time by function, and the call-graph-free list of shared objects).
// MINIMAL_SEQSCAN_OFF=1: the minimal function with enable_seqscan = off (its lock of the
// batch's 200 users otherwise reads all 1,000 wallets through a generic plan's filter, what
// migration 018 took out of the service's own lock), its profile named -seqscan-off.
// BATCH (100): transfers a call (the service's group commit sends about 11 a commit under
// 32 connections).
//   node bench/pg-perf.mjs        Env: BATCH, CALLS (30,000 / BATCH), USERS (1000), PG_ADMIN_URL
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { dbUrl, dropDb, floorCalls, freshDb, log, psql, ROOT } from "./lib.mjs";

const BATCH = Number(process.env.BATCH ?? 100);
const CALLS = Number(process.env.CALLS ?? Math.round(30_000 / BATCH));
const USERS = Number(process.env.USERS ?? 1000);
const DB = "wallet_bench_pg_perf";
const OUT = path.join(ROOT, "bench/results/profiles");
const day = new Date().toISOString().slice(0, 10);

freshDb(DB, USERS);
psql(DB, fs.readFileSync(path.join(ROOT, "bench/sql/minimal.sql"), "utf8"));
if (process.env.MINIMAL_SEQSCAN_OFF)
  psql(DB, "alter function minimal_transfer(bigint[], bigint[], bigint) set enable_seqscan = off");
const client = new pg.Client({ connectionString: dbUrl(DB) });
await client.connect();
const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid;
const floor = floorCalls(client, USERS, BATCH);
const runs = { minimal: floor.minimal, "wallet-apply": floor.apply };
const ticks = () => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]);
};
fs.mkdirSync(OUT, { recursive: true });
try {
  for (const [name, fn] of Object.entries(runs)) {
    for (let i = 0; i < 20; i++) await fn();
    const data = `/tmp/pg-perf-${process.pid}-${name}.data`;
    const perf = spawn("perf", ["record", "-q", "-F", "2999", "-p", String(pid), "-o", data], { stdio: "inherit" });
    await new Promise((r) => setTimeout(r, 500)); // perf attached
    const t0 = ticks();
    for (let i = 0; i < CALLS; i++) await fn();
    const us = Math.round(((ticks() - t0) * 10_000) / (CALLS * BATCH));
    perf.kill("SIGINT");
    await new Promise((r) => perf.once("exit", r));
    const report = (sort) =>
      execFileSync(
        "perf",
        ["report", "-i", data, "--stdio", "--no-children", "--sort", sort, "--percent-limit", "0.5"],
        {
          encoding: "utf8",
          maxBuffer: 64 << 20,
          stdio: ["ignore", "pipe", "ignore"],
        },
      )
        .split("\n")
        .filter((l) => l && !l.startsWith("#"))
        .join("\n");
    const variant =
      (name === "minimal" && process.env.MINIMAL_SEQSCAN_OFF ? "-seqscan-off" : "") +
      (BATCH === 100 ? "" : `-batch${BATCH}`);
    const file = path.join(OUT, `perf-pg-${name}${variant}-${day}.txt`);
    fs.writeFileSync(
      file,
      `# ${name}, batched ${BATCH} a call, ${CALLS} calls: the backend's CPU ${us} µs a transfer (utime + stime)\n` +
        `# perf record -F 2999 -p <backend>; perf report --no-children\n\n## by shared object\n${report("dso")}\n\n## by function\n${report("dso,symbol")}\n`,
    );
    fs.rmSync(data, { force: true });
    log(`${name}: ${us} µs a transfer; ${path.relative(ROOT, file)}`);
  }
} finally {
  await client.end();
  dropDb(DB);
}
