#!/usr/bin/env node
// The async queue after statistics taken on an empty queue. Each round, on a fresh
// database: 100,000 accepted transfers drained by `wallet worker` (four loops), the rate
// over the first SECONDS ("fresh"); then `vacuum analyze` with the queue empty (what
// autovacuum leaves after a quiet spell), 100,000 more accepted, the rate over SECONDS
// ("after_analyze_of_empty_queue"); then 100,000 more accepted, `analyze transfers`
// (statistics of a full queue) and the rate over SECONDS ("after_analyze_of_full_queue").
// Between the second and the last phase the queue is drained with fresh statistics, so
// that every build's last phase starts from a table with the same history.
//   node bench/stale-stats.mjs [base-rev]
// With base-rev, that revision is built in a worktree of its own and the rounds
// alternate between it and this checkout's build.
// Env: USERS (1000), SECONDS (10), ROUNDS (1; 2 with base-rev).
// Writes bench/results/stale-stats-<date>.json.
import { BIN, buildRev, dbUrl, dropDb, freshDb, log, psql, start, stop, writeResult } from "./lib.mjs";

const base = process.argv[2];
const USERS = Number(process.env.USERS ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? (base ? 2 : 1));

/** One round of the three phases with bin's build; transfers/s in each. */
async function round(bin) {
  const DB = `wallet_bench_stale_${process.pid}`;
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
      [bin, "worker"],
      { DATABASE_URL: dbUrl(DB), TRANSFER_WORKERS: "4", LOG_FORMAT: "json" },
      "wallet worker running",
    );
  /** transfers applied per second over SECONDS (two counts, not a poll) */
  const rate = async () => {
    const a = pending();
    await new Promise((r) => setTimeout(r, SECONDS * 1000));
    return Math.round((a - pending()) / SECONDS);
  };
  const out = {};
  freshDb(DB, USERS, bin);
  try {
    accept();
    let w = await worker();
    out.fresh_per_s = await rate();
    while (pending() > 0) await new Promise((r) => setTimeout(r, 500));
    await stop(w);
    psql(DB, "vacuum analyze");
    accept();
    w = await worker();
    out.after_analyze_of_empty_queue_per_s = await rate();
    // the rest drained with fresh statistics, so that the last phase starts, whatever the
    // build, from a table with the same history (300,000 transfers, 200,000 settled)
    psql(DB, "analyze transfers");
    while (pending() > 0) await new Promise((r) => setTimeout(r, 500));
    await stop(w);
    accept();
    psql(DB, "analyze transfers");
    w = await worker();
    out.after_analyze_of_full_queue_per_s = await rate();
    await stop(w);
  } finally {
    dropDb(DB);
  }
  return out;
}

const results = {
  date: new Date().toISOString(),
  settings: { users: USERS, seconds: SECONDS, loops: 4, rounds: ROUNDS, base: base ?? null },
  head: [],
  ...(base ? { base: [] } : {}),
};
const baseBuild = base ? buildRev(base) : undefined;
try {
  for (let r = 0; r < ROUNDS; r++) {
    const order = baseBuild ? (r % 2 ? ["base", "head"] : ["head", "base"]) : ["head"];
    for (const side of order) {
      const out = await round(side === "head" ? BIN : baseBuild.bin);
      log(`${side}: ${JSON.stringify(out)}`);
      results[side].push(out);
    }
  }
} finally {
  baseBuild?.remove();
}
writeResult(`stale-stats-${results.date.slice(0, 10)}`, results);
