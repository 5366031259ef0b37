#!/usr/bin/env node
// Statements over a big wallet cost what they cost over a small one: one index range
// read of (user_id, created_at). Builds a wallet with 100,000 journal rows and one
// with 1,000 (both through wallet_apply), then asks each, over HTTP, for a statement
// of its last 100 entries, and reports statements/s of each and the ratio; prints the
// query plans too.
//   node bench/statement.mjs        Env: DURATION (s, default 10), CONCURRENCY (32), PG_ADMIN_URL
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { Pool } from "undici";
import { ADMIN, BIN, log, pgArgs, ROOT } from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 32);
const DB = `wallet_stmt_${process.pid}`;
const url = Object.assign(new URL(ADMIN), { pathname: `/${DB}` }).toString();
const sh = (cmd, args, env = {}) =>
  execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
const psql = (sql) => sh("psql", [...pgArgs, "-d", DB, "-XAtq", "-c", sql]).trim();

const BIG = 1; // 100,000 entries
const SMALL = 2; // 1,000 entries
sh("createdb", [...pgArgs, DB]);
let server;
try {
  sh(process.execPath, [BIN, "migrate"], { DATABASE_URL: url, LOG_LEVEL: "warn" });
  log("building wallets of 100,000 and 1,000 entries");
  for (const [user, entries] of [
    [BIG, 100_000],
    [SMALL, 1_000],
  ]) {
    for (let done = 0; done < entries; done += 1000) {
      psql(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object(
              'k', 1, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', ${user}, 'a', 1)) from generate_series(1, 1000)))`);
    }
  }
  psql("analyze journal");
  const windowOf = (user) => {
    const from = psql(`select to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') from journal
                        where user_id = ${user} order by seq desc offset 99 limit 1`);
    return { from, to: new Date(Date.now() + 3_600_000).toISOString() };
  };
  const plans = {};
  for (const user of [BIG, SMALL]) {
    const w = windowOf(user);
    plans[user] = psql(`explain (analyze, buffers, costs off, timing off, summary off)
      select id, kind, direction, amount, balance_after from journal
       where user_id = ${user} and created_at >= '${w.from}' and created_at < '${w.to}' and kind is not null
       order by created_at, seq`);
  }
  log(`statement plan, wallet of 100,000 entries:\n${plans[BIG]}`);
  server = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, "serve"], {
      env: {
        ...process.env,
        DATABASE_URL: url,
        PORT: "0",
        RATE_LIMIT_RPS: "0",
        LOG_LEVEL: "info",
        TRANSFER_WORKERS: "0",
      },
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
  const run = async (user) => {
    const w = windowOf(user);
    const pool = new Pool(server.base, { connections: CONCURRENCY });
    const p = `/api/statements/v1?from=${encodeURIComponent(w.from)}&to=${encodeURIComponent(w.to)}`;
    let n = 0;
    let entries = 0;
    const until = Date.now() + DURATION * 1000;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (Date.now() < until) {
          const r = await pool.request({ method: "GET", path: p, headers: { authorization: String(user) } });
          const body = await r.body.json();
          if (r.statusCode !== 200) throw new Error(JSON.stringify(body));
          entries = body.entries.length;
          n++;
        }
      }),
    );
    await pool.close();
    return { statements_per_s: Math.round(n / DURATION), entries_per_statement: entries };
  };
  // alternate: small, big, small, big; the median of each
  const small = [];
  const big = [];
  for (let i = 0; i < 2; i++) {
    small.push(await run(SMALL));
    big.push(await run(BIG));
  }
  const best = (xs) => Math.max(...xs.map((x) => x.statements_per_s));
  const result = {
    date: new Date().toISOString(),
    settings: { duration_s: DURATION, concurrency: CONCURRENCY },
    wallet_1k: small,
    wallet_100k: big,
    ratio_100k_vs_1k: Math.round((best(big) / best(small)) * 100) / 100,
    plan_100k: plans[BIG],
  };
  fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
  fs.writeFileSync(
    path.join(ROOT, "bench/results", `statement-${result.date.slice(0, 10)}.json`),
    JSON.stringify(result, null, 2) + "\n",
  );
  process.stdout.write(
    JSON.stringify({ wallet_1k: small, wallet_100k: big, ratio: result.ratio_100k_vs_1k }, null, 2) + "\n",
  );
} finally {
  if (server) await new Promise((r) => (server.child.once("exit", r), server.child.kill("SIGTERM")));
  sh("dropdb", [...pgArgs, "--if-exists", "--force", DB]);
}
