#!/usr/bin/env node
// What watchers of events cost the server: DEPOSITS deposits of one user, one at a
// time over HTTP, with no watcher, with WATCHERS gRPC WatchEvents streams of that user,
// and with WATCHERS long polls (GET /api/events/v1?wait=30, each asking again with
// next_after as soon as it is answered). One `wallet serve` (HTTP and GRPC_PORT) on a
// fresh PostgreSQL database; a case ends when every watcher has received the last
// deposit's event. Server CPU is user + system time of the serve process from
// /proc/<pid>/stat over the case; ROUNDS rounds, the cases in a different order each
// round, medians reported with the ratios to "none" (target: < 2x).
//   node bench/watchers.mjs       (after npm run build, with PostgreSQL on 127.0.0.1)
// Env: DEPOSITS (default 300), WATCHERS (50), ROUNDS (3), PG_ADMIN_URL, WALLET_BIN (the
//      bin/wallet.js to run, e.g. an older build for a before/after), OUT.
import { setMaxListeners } from "node:events";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { Agent, request } from "undici";
import { BIN as OUR_BIN, dbUrl, dropDb, freshDb, log, machine, ratio, ROOT, start, stop } from "./lib.mjs";

const DEPOSITS = Number(process.env.DEPOSITS ?? 300);
const WATCHERS = Number(process.env.WATCHERS ?? 50);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const BIN = process.env.WALLET_BIN ?? OUR_BIN;
const CASES = (process.env.CASES ?? "none,grpc,longpoll").split(",");

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}
function cpuMs(pid) {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) * 10; // clock ticks of 10 ms
}
const until = async (cond) => {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 20));
};

const agent = new Agent({ connections: WATCHERS + 8, keepAliveTimeout: 60_000 });
async function get(base, p, user, signal) {
  const res = await request(base + p, { dispatcher: agent, headers: { authorization: String(user) }, signal });
  return { status: res.statusCode, body: await res.body.json() };
}
async function metric(base, name) {
  const res = await request(`${base}/metrics`, { dispatcher: agent });
  const m = new RegExp(`^${name} ([0-9.e+]+)$`, "m").exec(await res.body.text());
  return m ? Number(m[1]) : null;
}

const pkg = protoLoader.loadSync(path.join(ROOT, "proto/wallet/v1/wallet.proto"), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
});
const Wallet = grpc.loadPackageDefinition(pkg).wallet.v1.WalletService;

/** WATCHERS streams of one user; seen() the lowest sequence every one of them has received. */
function grpcWatchers(port, user) {
  const client = new Wallet(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  const last = Array(WATCHERS).fill(0);
  const calls = last.map((_v, i) => {
    const md = new grpc.Metadata();
    md.set("authorization", String(user));
    const call = client.WatchEvents({ after: 0 }, md);
    call.on("data", (e) => (last[i] = e.sequence));
    call.on("error", () => undefined);
    return call;
  });
  return {
    seen: () => Math.min(...last),
    close() {
      for (const c of calls) c.cancel();
      client.close();
    },
  };
}

/** WATCHERS long-poll loops of one user. */
function longPolls(base, user) {
  const ac = new AbortController();
  setMaxListeners(WATCHERS * 2, ac.signal);
  const last = Array(WATCHERS).fill(0);
  last.forEach((_v, i) => {
    void (async () => {
      while (!ac.signal.aborted) {
        const r = await get(base, `/api/events/v1?after=${last[i]}&wait=30`, user, ac.signal).catch(() => null);
        if (r?.status === 200) last[i] = r.body.next_after;
        else if (!ac.signal.aborted) throw new Error(`long poll answered ${r?.status}`);
      }
    })();
  });
  return { seen: () => Math.min(...last), close: () => ac.abort() };
}

async function runCase(s, grpcPort, kind, user) {
  const watchers = kind === "grpc" ? grpcWatchers(grpcPort, user) : kind === "longpoll" ? longPolls(s.url, user) : null;
  const want = watchers ? WATCHERS : 0;
  // (a build without the gauge: a second to connect)
  await until(async () => ((await metric(s.url, "wallet_event_watchers")) ?? want) === want);
  await new Promise((r) => setTimeout(r, watchers ? 1000 : 200)); // their first reads done
  const reads0 = await metric(s.url, "wallet_event_reads_total");
  const cpu0 = cpuMs(s.child.pid);
  const t0 = performance.now();
  for (let i = 0; i < DEPOSITS; i++) {
    const res = await request(`${s.url}/api/deposit/v1`, {
      dispatcher: agent,
      method: "POST",
      headers: { authorization: String(user), "content-type": "application/json" },
      body: JSON.stringify({ amount: 1 }),
    });
    await res.body.dump();
    if (res.statusCode !== 200) throw new Error(`deposit answered ${res.statusCode}`);
  }
  if (watchers) await until(() => watchers.seen() >= DEPOSITS);
  const cpu = cpuMs(s.child.pid) - cpu0;
  const ms = Math.round(performance.now() - t0);
  const reads1 = await metric(s.url, "wallet_event_reads_total");
  const reads = reads1 === null ? null : reads1 - reads0;
  watchers?.close();
  await until(async () => ((await metric(s.url, "wallet_event_watchers")) ?? 0) === 0);
  await new Promise((r) => setTimeout(r, 300));
  return { kind, server_cpu_ms: cpu, wall_ms: ms, event_reads: reads };
}

const name = `wallet_watchers_bench_${process.pid}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = Object.fromEntries(CASES.map((k) => [k, []]));
freshDb(name, 10);
try {
  const grpcPort = await freePort();
  const env = {
    DATABASE_URL: dbUrl(name),
    PORT: "0",
    GRPC_PORT: String(grpcPort),
    RATE_LIMIT_RPS: "0",
    WATCHERS_PER_USER: String(WATCHERS),
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
  };
  const prof = process.env.PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${process.env.PROFILE_DIR}`] : [];
  const s = await start([...prof, BIN, "serve"], env, "wallet listening");
  let user = 100;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const order = [...CASES];
      for (let k = 0; k < round; k++) order.push(order.shift());
      for (const kind of order) {
        const r = await runCase(s, grpcPort, kind, user++);
        runs[kind].push(r);
        log(`round ${round + 1} ${JSON.stringify(r)}`);
      }
    }
  } finally {
    await stop(s);
  }
} finally {
  dropDb(name);
}
const cpu = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((r) => r.server_cpu_ms))]));
const reads = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v.map((r) => r.event_reads))]));
const results = {
  date: new Date().toISOString(),
  machine: machine(),
  settings: { DEPOSITS, WATCHERS, ROUNDS, bin: path.relative(ROOT, BIN) },
  runs,
  median_server_cpu_ms: cpu,
  median_event_reads: reads,
  ratio_to_none: { grpc: ratio(cpu.grpc, cpu.none), longpoll: ratio(cpu.longpoll, cpu.none) },
  target: "< 2x none",
};
const out = process.env.OUT ?? path.join(ROOT, "bench/results", `watchers-${results.date.slice(0, 10)}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
process.stdout.write(
  JSON.stringify({ median_server_cpu_ms: cpu, ratio_to_none: results.ratio_to_none }, null, 2) + "\n",
);
log("written", out);
