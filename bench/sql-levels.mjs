#!/usr/bin/env node
// The SQL cost of a transfer per migration level: a fresh database per level (the
// migration files up to it, applied in order with psql), the same wallets seeded
// through wallet_apply deposits, then in rounds that interleave the levels (the order
// rotates each round): wallet_apply of N transfers in batches of 100, one statement
// (and one commit) per batch, in one session; then the minimal function
// (bench/sql/minimal.sql) of the same N transfers in batches of 100, in the same
// session on the same database. Measured per phase: wall-clock ms and the backend's
// CPU (/proc/<pg_backend_pid()>/schedstat: ns on CPU; stat's utime+stime if absent).
// The ratio is wallet_apply / minimal of the same round and database, by CPU.
//   node bench/sql-levels.mjs   Env: LEVELS (comma list of migration numbers, default
//   "008,...,<last file>"), N (transfers per phase, 3000), ROUNDS (5), USERS (1000),
//   OUT (result file name, default sql-levels-<date>), BATCH (operations a call, 100), PG_ADMIN_URL, EXTRA (a candidate
//   migration measured as a level of its own: "016x:/path/file.sql,...", the files
//   numbered below 016 then that file)
import fs from "node:fs";
import path from "node:path";
import pg from "pg";
import { dbUrl, log, machine, migratedDb, migrationFiles, pgArgs, ROOT, sh, writeResult } from "./lib.mjs";

const allLevels = migrationFiles()
  .map((f) => f.slice(0, 3))
  .filter((l) => l >= "008");
const EXTRA = Object.fromEntries(
  (process.env.EXTRA ?? "")
    .split(",")
    .filter(Boolean)
    .map((e) => e.split(":")),
);
const LEVELS = (process.env.LEVELS ?? allLevels.join(","))
  .split(",")
  .map((l) => l.trim().padStart(3, "0"))
  .concat(Object.keys(EXTRA));
const N = Number(process.env.N ?? 3000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const USERS = Number(process.env.USERS ?? 1000);
const BATCH = Number(process.env.BATCH ?? 100); // operations a call (the server's group commit makes about 8 at 32 clients)
const dbName = (level) => `wallet_sqllevels_${process.pid}_${level.replace(/\W/g, "")}`;

/** A fresh database at `level` (or a candidate migration, EXTRA), with the minimal function beside it. */
function migrateTo(db, level) {
  migratedDb(db, level, EXTRA[level]);
  sh("psql", [...pgArgs, "-d", db, "-XAtq", "-v", "ON_ERROR_STOP=1", "-f", path.join(ROOT, "bench/sql/minimal.sql")]);
}

/** Wallets 1..USERS with a large balance, each opened by a deposit through wallet_apply. */
async function seed(c) {
  for (let first = 1; first <= USERS; first += 1000) {
    const last = Math.min(USERS, first + 999);
    await c.query(
      `select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
         'id', (500000000000 + g)::text, 'u', g, 'a', 1000000000000)) from generate_series($1::bigint, $2::bigint) g), false)`,
      [first, last],
    );
  }
  await c.query("vacuum analyze");
}

/** The same transfers for every level in a round: payer and payee spread over the wallets, ids made by the client. */
function transfers(round) {
  const out = [];
  for (let i = 0; i < N; i++) {
    const n = round * N + i;
    const u = ((n * 7919) % USERS) + 1;
    out.push({ id: 1_000_000_000_000 + n, u, c: (u % USERS) + 1 });
  }
  return out;
}

function cpuNs(pid) {
  try {
    return Number(fs.readFileSync(`/proc/${pid}/schedstat`, "utf8").split(" ")[0]);
  } catch {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) * 1e7; // utime + stime in ticks of 10 ms
  }
}

// each phase starts from vacuumed wallets and users: the updates of earlier phases leave
// dead versions behind (faster than autovacuum would clear them here), which would slow
// whichever phase came later
async function timed(s, fn) {
  await s.client.query(s.level < "008" ? "vacuum wallets" : "vacuum wallets, users"); // users: 008 on
  const cpu0 = cpuNs(s.pid);
  const t0 = process.hrtime.bigint();
  await fn();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  return { ms: Math.round(ms * 10) / 10, cpu_ms: Math.round((cpuNs(s.pid) - cpu0) / 1e5) / 10 };
}

async function applyPhase(s, ops) {
  for (let i = 0; i < ops.length; i += BATCH) {
    const batch = ops.slice(i, i + BATCH).map((o) => ({ k: 3, cur: "USD", id: String(o.id), u: o.u, c: o.c, a: 1 }));
    const r = await s.client.query(
      "select count(*)::int as n from wallet_apply($1::jsonb, false) where outcome = 'ok'",
      [JSON.stringify(batch)],
    );
    if (r.rows[0].n !== batch.length) throw new Error(`wallet_apply: ${r.rows[0].n} of ${batch.length} ok`);
  }
}

async function minimalPhase(s, ops) {
  for (let i = 0; i < ops.length; i += BATCH) {
    const b = ops.slice(i, i + BATCH);
    await s.client.query("select minimal_transfer($1::bigint[], $2::bigint[], 1)", [
      b.map((o) => o.u),
      b.map((o) => o.c),
    ]);
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const r2 = (x) => Math.round(x * 100) / 100;

const sessions = [];
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: { LEVELS, N, ROUNDS, USERS, BATCH },
  how:
    "per level a fresh database (migrations up to it, psql), wallets seeded by wallet_apply deposits; each round, " +
    "levels in rotating order: wallet_apply of N transfers (k 3, amount 1, ids from the client) in statements of 100, " +
    "then minimal_transfer of the same N in statements of 100, one session per database, wallets and users " +
    "vacuumed before each phase; cpu_ms from " +
    "/proc/<backend pid>/schedstat, ratio = wallet_apply cpu / minimal cpu of the same round",
  rounds: {},
};
try {
  for (const level of LEVELS) {
    log(`level ${level}: migrating and seeding ${USERS} wallets`);
    migrateTo(dbName(level), level);
    const client = new pg.Client({ connectionString: dbUrl(dbName(level)) });
    await client.connect();
    const pid = (await client.query("select pg_backend_pid() as pid")).rows[0].pid;
    await seed(client);
    sessions.push({ level, client, pid });
    results.rounds[level] = [];
  }
  // a warm-up round (plans cached, pages read), not counted
  for (const s of sessions) await applyPhase(s, transfers(ROUNDS).slice(0, 500));
  for (const s of sessions) await minimalPhase(s, transfers(ROUNDS).slice(0, 500));
  for (let round = 0; round < ROUNDS; round++) {
    const ops = transfers(round);
    const order = sessions.map((_, i) => sessions[(i + round) % sessions.length]);
    for (const s of order) {
      const apply = await timed(s, () => applyPhase(s, ops));
      const minimal = await timed(s, () => minimalPhase(s, ops));
      const ratio = r2(apply.cpu_ms / minimal.cpu_ms);
      results.rounds[s.level].push({ apply, minimal, ratio });
      log(
        `round ${round + 1} ${s.level}: wallet_apply ${apply.cpu_ms} ms CPU (${apply.ms} ms), minimal ${minimal.cpu_ms} ms CPU (${minimal.ms} ms): ${ratio}x`,
      );
    }
  }
} finally {
  for (const s of sessions) await s.client.end().catch(() => undefined);
  for (const level of LEVELS) sh("dropdb", [...pgArgs, "--if-exists", "--force", dbName(level)]);
}

results.median = Object.fromEntries(
  Object.entries(results.rounds).map(([level, rs]) => {
    const applyCpu = median(rs.map((r) => r.apply.cpu_ms));
    return [
      level,
      {
        apply_ms: median(rs.map((r) => r.apply.ms)),
        apply_cpu_ms: applyCpu,
        apply_cpu_us_per_transfer: Math.round((applyCpu * 1000) / N),
        minimal_ms: median(rs.map((r) => r.minimal.ms)),
        minimal_cpu_ms: median(rs.map((r) => r.minimal.cpu_ms)),
        ratio_to_minimal: median(rs.map((r) => r.ratio)),
      },
    ];
  }),
);
const first = LEVELS[0];
results.against_first = Object.fromEntries(
  LEVELS.map((l) => [l, r2(results.median[l].apply_cpu_ms / results.median[first].apply_cpu_ms)]),
);
writeResult(process.env.OUT ?? `sql-levels-${results.date.slice(0, 10)}`, results);
process.stdout.write(JSON.stringify({ median: results.median, against_first: results.against_first }, null, 2) + "\n");
