#!/usr/bin/env node
// The async queue after statistics taken on an empty queue: 100,000 accepted transfers
// drained by `wallet worker` (four loops) on a fresh database (the rate over the first
// 10 s); then `vacuum analyze` with the queue empty (what autovacuum leaves after a quiet
// spell), 100,000 more accepted, the rate over 10 s; then `analyze transfers` and the
// rate over the next 10 s.
//   node bench/stale-stats.mjs      Env: USERS (1000), SECONDS (10).
// Writes bench/results/stale-stats-<date>.json.
import { BIN, dbUrl, dropDb, freshDb, log, psql, start, stop, writeResult } from "./lib.mjs";

const DB = `wallet_bench_stale_${process.pid}`;
const USERS = Number(process.env.USERS ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const pending = () => Number(psql(DB, "select count(*) from transfers where status = 'pending'"));
const accept = () =>
  psql(
    DB,
    `select count(*) from generate_series(1, 100) b, lateral wallet_apply((
       select jsonb_agg(jsonb_build_object('k', 4, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', x, 'c', x % ${USERS} + 1, 'a', 1))
         from (select (floor(random() * ${USERS}) + 1)::bigint + b * 0 as x from generate_series(1, 1000)) s), false) a`,
  );
const worker = () =>
  start(
    [BIN, "worker"],
    { DATABASE_URL: dbUrl(DB), TRANSFER_WORKERS: "4", LOG_FORMAT: "json" },
    "wallet worker running",
  );
/** transfers applied per second over SECONDS (two counts, not a poll) */
async function rate() {
  const a = pending();
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  return Math.round((a - pending()) / SECONDS);
}

const results = { date: new Date().toISOString(), settings: { users: USERS, seconds: SECONDS, loops: 4 } };
freshDb(DB, USERS);
try {
  accept();
  let w = await worker();
  results.fresh_per_s = await rate();
  while (pending() > 0) await new Promise((r) => setTimeout(r, 500));
  await stop(w);
  psql(DB, "vacuum analyze");
  accept();
  w = await worker();
  results.after_analyze_of_empty_queue_per_s = await rate();
  psql(DB, "analyze transfers");
  results.after_analyze_of_full_queue_per_s = await rate();
  await stop(w);
} finally {
  dropDb(DB);
}
log(JSON.stringify(results));
writeResult(`stale-stats-${results.date.slice(0, 10)}`, results);
