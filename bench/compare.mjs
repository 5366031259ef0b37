#!/usr/bin/env node
// Compares two revisions' `wallet serve` on the same machine in the same run: each is
// built in a worktree of its own (so edits in this checkout do not disturb a run); for
// each scenario, rounds alternate between the two builds (fresh database, same seed,
// same load generator: the head build's `wallet loadtest`), and the report gives each
// side's median and the ratio head/base.
//   node bench/compare.mjs <base-rev> [scenario ...]      (default scenarios: transfer deposit)
// Env: HEAD_REV (default HEAD).
// Env: DURATION (s, default 10), ROUNDS (3), CONCURRENCY (64), USERS (1000), PG_ADMIN_URL.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dbUrl, log, pgArgs, ROOT } from "./lib.mjs";

const [base, ...rest] = process.argv.slice(2);
if (!base) {
  process.stderr.write("usage: node bench/compare.mjs <base-rev> [scenario ...]\n");
  process.exit(2);
}
const scenarios = rest.length ? rest : ["transfer", "deposit"];
const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const USERS = Number(process.env.USERS ?? 1000);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });

const headRev = process.env.HEAD_REV ?? "HEAD";
const trees = [];
function build(rev) {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-rev-"));
  sh("git", ["-C", ROOT, "worktree", "add", "--detach", tree, rev], { stdio: "ignore" });
  trees.push(tree);
  log(`building ${rev} in ${tree}`);
  sh("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], { cwd: tree, stdio: "ignore" });
  sh("npm", ["run", "build"], { cwd: tree, stdio: "ignore" });
  return path.join(tree, "bin/wallet.js");
}
const builds = { base: build(base), head: build(headRev) };

function serve(bin, url) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, "serve"], {
      env: { ...process.env, DATABASE_URL: url, PORT: "0", RATE_LIMIT_RPS: "0", LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        try {
          const j = JSON.parse(line);
          if (j.msg === "wallet listening") resolve({ child, url: `http://127.0.0.1:${j.port}` });
        } catch {
          /* not JSON */
        }
      }
    });
    child.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
  });
}
const stop = (s) => new Promise((r) => (s.child.once("exit", r), s.child.kill("SIGTERM")));

// the load generator checks totals over the API (the two schemas differ); each side's
// own `wallet verify` checks its invariants afterwards
function loadtest(url, scenario) {
  const args = [builds.head, "loadtest", "--api", url, "--scenario", scenario, "--duration", String(DURATION)];
  args.push("--concurrency", String(CONCURRENCY), "--users", String(USERS), "--no-seed", "--json");
  const env = { ...process.env, LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  return JSON.parse(sh(process.execPath, args, { env }));
}

const results = {
  date: new Date().toISOString(),
  base,
  head: headRev,
  settings: { DURATION, ROUNDS, CONCURRENCY, USERS },
  scenarios: {},
};
try {
  for (const scenario of scenarios) {
    const runs = { base: [], head: [] };
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which goes first, so that neither always meets a warmer machine
      const order = round % 2 === 0 ? ["base", "head"] : ["head", "base"];
      for (const side of order) {
        const name = `wallet_cmp_${process.pid}_${side}`;
        sh("createdb", [...pgArgs, name]);
        try {
          const url = dbUrl(name);
          const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" };
          sh(process.execPath, [builds[side], "migrate"], { env });
          sh(process.execPath, [builds[side], "seed", "--users", String(USERS), "--balance", "1000000000"], { env });
          const s = await serve(builds[side], url);
          const r = loadtest(s.url, scenario);
          await stop(s);
          if (!r.ledger?.ok) throw new Error(`${side} ${scenario}: ledger check failed ${JSON.stringify(r.ledger)}`);
          sh(process.execPath, [builds[side], "verify"], { env }); // exits 1 on a violation
          runs[side].push({ rps: r.throughput_rps, p99_ms: r.latency_ms.p99 });
          log(`${scenario} round ${round + 1} ${side}: ${r.throughput_rps}/s p99 ${r.latency_ms.p99} ms`);
        } finally {
          sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
        }
      }
    }
    const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const b = median(runs.base.map((r) => r.rps));
    const h = median(runs.head.map((r) => r.rps));
    results.scenarios[scenario] = {
      runs,
      base_median_rps: b,
      head_median_rps: h,
      ratio: Math.round((h / b) * 1000) / 1000,
    };
  }
} finally {
  for (const tree of trees) sh("git", ["-C", ROOT, "worktree", "remove", "--force", tree], { stdio: "ignore" });
}
fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
const file = path.join(ROOT, "bench/results", `compare-${results.date.slice(0, 10)}-${scenarios.join("-")}.json`);
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
process.stdout.write(JSON.stringify(results.scenarios, null, 2) + "\n");
log("written", file);
