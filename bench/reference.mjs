#!/usr/bin/env node
// `GET /api/transactions/v1?reference=` on a big database against a small one, same run:
// small: 1,000 wallets x 10 entries; big: BIG_USERS wallets and BIG_ENTRIES entries, wallet
// 1 holding DEEP of them (as bench/scale.mjs builds it). On each, wallet 1 then makes 50
// deposits with references of its own over the API, and each reference is looked up
// (uncached: READ_CACHE=false) ROUNDS times; the median latency and the lookup's
// EXPLAIN (ANALYZE, BUFFERS) are reported, with the CPU the database's backends and the
// server spent per lookup meanwhile (from /proc: on a shared machine latency is noisy, CPU
// much less). PASSES > 1 alternates small and big that many times, each pass with
// references of its own. Writes bench/results/<RESULT or reference-<date>>.json.
//   node bench/reference.mjs     Env: BIG_USERS (1000000), BIG_ENTRIES (10000000), DEEP (100000), ROUNDS (5),
//                                     PASSES (1), RESULT, KEEP (keep the databases)
import fs from "node:fs";
import { Pool } from "undici";
import { dropDb, log, pgArgs, psql, serve, sh, stop, wallet, writeResult } from "./lib.mjs";

const BIG_USERS = Number(process.env.BIG_USERS ?? 1_000_000);
const BIG_ENTRIES = Number(process.env.BIG_ENTRIES ?? 10_000_000);
const DEEP = Number(process.env.DEEP ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PASSES = Number(process.env.PASSES ?? 1);
const REFS = 50;

function fresh(name, seedArgs) {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
  sh("createdb", [...pgArgs, name]);
  wallet(name, ["migrate"]);
  const t0 = Date.now();
  wallet(name, ["seed", ...seedArgs]);
  return Math.round((Date.now() - t0) / 1000);
}

/** CPU time (user + system, in clock ticks of 10 ms) of processes, from /proc. */
const ticks = (pids) =>
  pids.reduce((sum, pid) => {
    try {
      const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      return sum + Number(f[11]) + Number(f[12]);
    } catch {
      return sum; // gone meanwhile
    }
  }, 0);
const backends = (name) =>
  psql("postgres", `select pid from pg_stat_activity where datname = '${name}'`)
    .split("\n")
    .filter(Boolean)
    .map(Number);
const median = (sorted) => sorted[sorted.length >> 1];
const round2 = (x) => Math.round(x * 100) / 100;

async function probe(name, prefix) {
  const s = await serve(name, { READ_CACHE: "false", LOG_LEVEL: "info" });
  const pool = new Pool(s.url, { connections: 4 });
  const call = async (method, path, body) => {
    const r = await pool.request({
      method,
      path,
      headers: { authorization: "1", "content-type": "application/json" },
      body: body && JSON.stringify(body),
    });
    const j = await r.body.json();
    if (r.statusCode !== 200) throw new Error(`${path}: ${r.statusCode} ${JSON.stringify(j)}`);
    return j;
  };
  try {
    for (let i = 0; i < REFS; i++) await call("POST", "/api/deposit/v1", { amount: 1, reference: `${prefix}-${i}` });
    const ms = [];
    const pids = backends(name);
    const [pg0, server0] = [ticks(pids), ticks([s.child.pid])];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < REFS; i++) {
        const t0 = performance.now();
        const page = await call("GET", `/api/transactions/v1?reference=${prefix}-${i}`);
        ms.push(performance.now() - t0);
        if (page.transactions.length !== 1) throw new Error(`${prefix}-${i}: ${page.transactions.length} entries`);
      }
    }
    // the backends that served the lookups, and any that ran beside them (the workers')
    const pgCpuMs = ((ticks(pids) - pg0) * 10) / ms.length;
    const serverCpuMs = ((ticks([s.child.pid]) - server0) * 10) / ms.length;
    ms.sort((a, b) => a - b);
    const entries = Number(psql(name, "select count(*) from journal where user_id = 1"));
    const plan = psql(
      name,
      "explain (analyze, buffers, costs off, timing off) select seq from journal where user_id = 1 and reference = 'order-7' and kind is not null order by seq desc limit 31",
    );
    return {
      wallet_1_entries: entries,
      median_ms: round2(median(ms)),
      p90_ms: round2(ms[Math.floor(ms.length * 0.9)]),
      pg_cpu_ms_per_lookup: round2(pgCpuMs),
      server_cpu_ms_per_lookup: round2(serverCpuMs),
      plan: plan.split("\n"),
    };
  } finally {
    await pool.close();
    await stop(s);
  }
}

const SMALL = `wallet_ref_small_${process.pid}`;
const BIG = `wallet_ref_big_${process.pid}`;
const results = { date: new Date().toISOString(), settings: { BIG_USERS, BIG_ENTRIES, DEEP, ROUNDS, REFS, PASSES } };
try {
  log(`seeding ${SMALL}`);
  fresh(SMALL, ["--users", "1000", "--balance", "10000", "--entries", "10000"]);
  log(`seeding ${BIG}: ${BIG_USERS} wallets, ${BIG_ENTRIES} entries, wallet 1 ${DEEP}`);
  results.big_seed_s = fresh(BIG, [
    "--users",
    String(BIG_USERS),
    "--balance",
    "10000",
    "--entries",
    String(BIG_ENTRIES),
    "--deep",
    String(DEEP),
  ]);
  // pass 1 as it always was (right after the seed); further passes alternate, new references each
  results.passes = [];
  for (let pass = 1; pass <= PASSES; pass++) {
    const prefix = pass === 1 ? "order" : `order${pass}`;
    const small = await probe(SMALL, prefix);
    const big = await probe(BIG, prefix);
    const ratio = round2(big.median_ms / small.median_ms);
    log(
      `pass ${pass}: small ${small.median_ms} ms, big ${big.median_ms} ms, big/small ${ratio};`,
      `database CPU a lookup ${small.pg_cpu_ms_per_lookup} / ${big.pg_cpu_ms_per_lookup} ms`,
    );
    if (pass === 1) Object.assign(results, { small, big, ratio_big_over_small: ratio });
    const { plan: _s, ...s } = small;
    const { plan: _b, ...b } = big;
    results.passes.push({ small: s, big: b, ratio_big_over_small: ratio });
  }
  if (PASSES > 1)
    results.median_ratio_over_passes = median(results.passes.map((p) => p.ratio_big_over_small).sort((x, y) => x - y));
  writeResult(process.env.RESULT ?? `reference-${results.date.slice(0, 10)}`, results);
} finally {
  if (!process.env.KEEP) for (const d of [SMALL, BIG]) dropDb(d);
}
