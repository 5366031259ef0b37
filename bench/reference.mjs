#!/usr/bin/env node
// `GET /api/transactions/v1?reference=` on a big database against a small one, same run:
// small: 1,000 wallets x 10 entries; big: BIG_USERS wallets and BIG_ENTRIES entries, wallet
// 1 holding DEEP of them (as bench/scale.mjs builds it). On each, wallet 1 then makes 50
// deposits with references of its own over the API, and each reference is looked up
// (uncached: READ_CACHE=false) ROUNDS times; the median latency and the lookup's
// EXPLAIN (ANALYZE, BUFFERS) are reported. Writes bench/results/reference-<date>.json.
//   node bench/reference.mjs     Env: BIG_USERS (1000000), BIG_ENTRIES (10000000), DEEP (100000), ROUNDS (5)
import { Pool } from "undici";
import { dropDb, log, pgArgs, psql, serve, sh, stop, wallet, writeResult } from "./lib.mjs";

const BIG_USERS = Number(process.env.BIG_USERS ?? 1_000_000);
const BIG_ENTRIES = Number(process.env.BIG_ENTRIES ?? 10_000_000);
const DEEP = Number(process.env.DEEP ?? 100_000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const REFS = 50;

function fresh(name, seedArgs) {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
  sh("createdb", [...pgArgs, name]);
  wallet(name, ["migrate"]);
  const t0 = Date.now();
  wallet(name, ["seed", ...seedArgs]);
  return Math.round((Date.now() - t0) / 1000);
}

async function probe(name) {
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
    for (let i = 0; i < REFS; i++) await call("POST", "/api/deposit/v1", { amount: 1, reference: `order-${i}` });
    const ms = [];
    for (let round = 0; round < ROUNDS; round++) {
      for (let i = 0; i < REFS; i++) {
        const t0 = performance.now();
        const page = await call("GET", `/api/transactions/v1?reference=order-${i}`);
        ms.push(performance.now() - t0);
        if (page.transactions.length !== 1) throw new Error(`order-${i}: ${page.transactions.length} entries`);
      }
    }
    ms.sort((a, b) => a - b);
    const entries = Number(psql(name, "select count(*) from journal where user_id = 1"));
    const plan = psql(
      name,
      "explain (analyze, buffers, costs off, timing off) select seq from journal where user_id = 1 and reference = 'order-7' and kind is not null order by seq desc limit 31",
    );
    return {
      wallet_1_entries: entries,
      median_ms: Math.round(ms[ms.length >> 1] * 100) / 100,
      p90_ms: Math.round(ms[Math.floor(ms.length * 0.9)] * 100) / 100,
      plan: plan.split("\n"),
    };
  } finally {
    await pool.close();
    await stop(s);
  }
}

const SMALL = `wallet_ref_small_${process.pid}`;
const BIG = `wallet_ref_big_${process.pid}`;
const results = { date: new Date().toISOString(), settings: { BIG_USERS, BIG_ENTRIES, DEEP, ROUNDS, REFS } };
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
  results.small = await probe(SMALL);
  log("small:", results.small.median_ms, "ms");
  results.big = await probe(BIG);
  log("big:", results.big.median_ms, "ms");
  results.ratio_big_over_small = Math.round((results.big.median_ms / results.small.median_ms) * 100) / 100;
  log("big/small:", results.ratio_big_over_small);
  writeResult(`reference-${results.date.slice(0, 10)}`, results);
} finally {
  if (!process.env.KEEP) for (const d of [SMALL, BIG]) dropDb(d);
}
