#!/usr/bin/env node
// Async completion against its SQL floor, alternating in one run: ROUNDS times, first
// `wallet_apply` batched (pgbench, 100 transfers a call, 8 clients, DURATION s) on a
// database of its own, then a drain (QUEUED transfers accepted while no worker runs,
// then `wallet worker` with DRAIN_WORKERS loops until none is pending). Reports each
// round's rates and ratio and the median ratio: the machine's swings (this one's disk
// flush and CPU share move between runs) fall on both sides of each round. Each
// round starts from fresh databases.
//   node bench/drain.mjs
// Env: ROUNDS (3), DURATION (10), USERS (1000), QUEUED (100000), DRAIN_WORKERS (4).
// Writes bench/results/drain-<date>.json.
import { drainQueue, dropDb, freshDb, log, pgbench, writeResult } from "./lib.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = Number(process.env.DURATION ?? 10);
const USERS = Number(process.env.USERS ?? 1000);
const QUEUED = Number(process.env.QUEUED ?? 100_000);
const LOOPS = Number(process.env.DRAIN_WORKERS ?? 4);
const DB = `wallet_bench_drain_${process.pid}`;
const SQL_DB = `${DB}_sql`;

const results = {
  date: new Date().toISOString(),
  settings: { rounds: ROUNDS, duration_s: DURATION, users: USERS, queued: QUEUED, loops: LOOPS },
  rounds: [],
};
try {
  for (let k = 0; k < ROUNDS; k++) {
    // fresh databases each round, as run.mjs measures one drain: the earlier rounds' dead
    // rows (autovacuum is off on this machine's PostgreSQL) or statistics taken on an
    // empty queue (bench/README.md) would slow the next round's plans
    freshDb(DB, USERS);
    freshDb(SQL_DB, USERS);
    const floor = pgbench(SQL_DB, "transfer_batch100_fixedid.sql", {
      duration: DURATION,
      users: USERS,
      clients: 8,
      per: 100,
    });
    const d = await drainQueue(DB, { users: USERS, loops: LOOPS, queued: QUEUED });
    const round = {
      wallet_apply_batch100_per_s: floor.per_s,
      drain: d,
      ratio: Math.round((d.per_s / floor.per_s) * 100) / 100,
    };
    results.rounds.push(round);
    log(`round ${k + 1}:`, JSON.stringify(round));
  }
} finally {
  dropDb(DB);
  dropDb(SQL_DB);
}
const ratios = results.rounds.map((r) => r.ratio).sort((a, b) => a - b);
results.median_ratio = ratios[Math.floor(ratios.length / 2)];
log("median ratio of async completion to wallet_apply batched:", results.median_ratio);
writeResult(`drain-${results.date.slice(0, 10)}`, results);
