#!/usr/bin/env node
// The CPU a request costs: for each scenario, a fixed number of requests against
// `wallet serve`, and the CPU (utime + stime from /proc) the serving process and the
// database's backends for it spent, per request. Next to them, in the same run: a
// bare node:http server parsing the same JSON body and answering (POST) or answering
// (GET), and the SQL floor: the minimal transfer function and wallet_apply, batched
// 100 a call, each on one connection whose backend's CPU is read the same way.
//   node bench/cpu.mjs [scenario ...]
// Scenarios: transfer deposit transfer-async balance balance-uncached history exchange batch
// grpc-transfer (Transfer over gRPC: one HTTP/2 stream a call, CONCURRENCY connections).
// Env: REQUESTS (20000), WARM (2000: requests before measuring), CONCURRENCY (32), USERS
// (1000), PG_ADMIN_URL; PROFILE=1: the
// serving process (and the bare server, one a method) also writes a V8 CPU profile per
// scenario to bench/results/profiles/ (open it in Chrome DevTools or speedscope for the
// flame graph), with the measured stretch beside it: `node bench/profile-window.mjs
// <profile>` lists where that stretch's time went, start-up and warm-up left out. Writes
// bench/results/cpu-<date>.json. The figures are CPU per request, not throughput: a
// busy machine stretches the wall clock far more than it changes them. PAIRED=K (CHUNK,
// 2000): only the Node targets, the bare server and the service up at once, K rounds of
// alternating chunks (bench/results/cpu-paired-<date>.json).
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import grpc from "@grpc/grpc-js";
import protoLoader from "@grpc/proto-loader";
import pg from "pg";
import { Pool } from "undici";
import { BIN, dbUrl, dropDb, floorCalls, freshDb, log, psql, ROOT, serve, start, stop } from "./lib.mjs";

const ALL = [
  "transfer",
  "deposit",
  "transfer-async",
  "balance",
  "balance-uncached",
  "history",
  "exchange",
  "batch",
  "grpc-transfer",
];
const scenarios = process.argv.slice(2).length ? process.argv.slice(2) : ALL;
const N = Number(process.env.REQUESTS ?? 20000);
// requests sent before measuring (JIT, pools, caches): V8 still optimizes for tens of
// thousands of requests, and that compiling is CPU of the process too
const WARM = Number(process.env.WARM ?? 2000);
const C = Number(process.env.CONCURRENCY ?? 32);
const USERS = Number(process.env.USERS ?? 1000);
const ADMIN_TOKEN = "cpu-bench-admin-token-0123456789abcdef";
const DB = process.env.BENCH_DB ?? "wallet_bench_cpu";

const ticks = (pid) => {
  const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]); // utime + stime, in clock ticks (1/100 s)
};
const backends = () =>
  psql(DB, `select pid from pg_stat_activity where datname = '${DB}' and pid <> pg_backend_pid()`)
    .split("\n")
    .filter(Boolean)
    .map(Number);
const sumTicks = (pids) =>
  pids.reduce((s, p) => {
    try {
      return s + ticks(p);
    } catch {
      return s; // gone
    }
  }, 0);

/** CLOCK_MONOTONIC in µs: the clock of V8's CPU profiles' timestamps */
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
/** the last measured stretch, written beside a PROFILE=1 profile (bench/profile-window.mjs reads it) */
let lastWindow;

/** CPU of the process pid and of the database's backends while fn runs; µs per unit. */
async function measure(pid, units, fn) {
  const pids = backends();
  const [p0, d0] = [ticks(pid), sumTicks(pids)];
  const w0 = monotonicUs();
  await fn();
  lastWindow = { start_us: w0, end_us: monotonicUs() };
  const [p1, d1] = [ticks(pid), sumTicks(pids)];
  const per = (t) => Math.round((t * 10_000) / units);
  return { node_us: per(p1 - p0), pg_us: per(d1 - d0) };
}

/** Sends n requests, c at a time; next(i) gives the i-th. Refuses any status but 2xx. */
async function drive(url, n, next) {
  const pool = new Pool(url, { connections: C, pipelining: 1 });
  let i = 0;
  const worker = async () => {
    while (i < n) {
      const r = await pool.request(next(i++));
      const text = await r.body.text();
      if (r.statusCode >= 300) throw new Error(`${r.statusCode} ${text}`);
    }
  };
  await Promise.all(Array.from({ length: C }, worker));
  await pool.close();
}

const user = (i) => (i % USERS) + 1;
const json = (method, p, u, body, extra = {}) => ({
  method,
  path: p,
  headers: { authorization: String(u), "content-type": "application/json", ...extra },
  body: body === undefined ? undefined : JSON.stringify(body),
});
const SCENARIOS = {
  transfer: (i) => json("POST", "/api/transfer/v1", user(i), { destination_user_id: user(i + 1), amount: 1 }),
  deposit: (i) => json("POST", "/api/deposit/v1", user(i), { amount: 1 }),
  "transfer-async": (i) => json("POST", "/api/transfer/v2", user(i), { destination_user_id: user(i + 1), amount: 1 }),
  balance: (i) => json("GET", "/api/wallet/balance/v1", user(i)),
  "balance-uncached": (i) => json("GET", "/api/wallet/balance/v1", user(i)),
  history: (i) => json("GET", "/api/transactions/v1?page_size=20", user(i)),
  batch: (i) =>
    json("POST", "/api/batches/v1", user(i), {
      operations: [
        { type: "transfer", destination_user_id: user(i + 1), amount: 1 },
        { type: "transfer", destination_user_id: user(i + 2), amount: 1 },
      ],
    }),
};

async function waitQueueEmpty() {
  for (;;) {
    const left = Number(psql(DB, "select count(*) from transfers where status in ('pending', 'processing')"));
    if (left === 0) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

const PROFILES = path.join(ROOT, "bench/results/profiles");
const freePort = () =>
  new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });

/** `wallet serve` for a scenario; with PROFILE, under --cpu-prof (the profile is written as it exits). */
async function serveFor(name, env) {
  if (!process.env.PROFILE) return serve(DB, env);
  const flags = profileFlags(name);
  const full = {
    DATABASE_URL: dbUrl(DB),
    PORT: "0",
    RATE_LIMIT_RPS: "0",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
    ...env,
  };
  return start([...flags, BIN, "serve"], full, "wallet listening");
}

/** --cpu-prof flags for a process of a scenario (named for it); profileName says where it goes */
let profileName;
function profileFlags(name) {
  fs.mkdirSync(PROFILES, { recursive: true });
  profileName = `cpu-${name}-${new Date().toISOString().slice(0, 10)}${WARM === 2000 ? "" : `-warm${WARM}`}.cpuprofile`;
  // a sample every 100 µs (V8 default: 1 ms, a few hundred samples in a measured stretch)
  return ["--cpu-prof", "--cpu-prof-interval=100", `--cpu-prof-dir=${PROFILES}`, `--cpu-prof-name=${profileName}`];
}
/** after a profiled process exits: its measured stretch beside its profile */
function writeWindow() {
  if (!process.env.PROFILE || !lastWindow) return;
  fs.writeFileSync(path.join(PROFILES, `${profileName}.window.json`), JSON.stringify(lastWindow) + "\n");
  log(`profile: bench/results/profiles/${profileName} (node bench/profile-window.mjs on it)`);
}

async function scenario(name) {
  const env = { ADMIN_TOKEN, ...(name === "balance-uncached" ? { READ_CACHE: "false" } : {}) };
  if (name === "grpc-transfer") env.GRPC_PORT = String(await freePort());
  const s = await serveFor(name, env);
  try {
    const pid = s.child.pid;
    if (name === "exchange") return await exchange(s);
    if (name === "grpc-transfer") return await grpcTransfer(s);
    const next = SCENARIOS[name];
    await drive(s.url, WARM, next);
    if (name === "transfer-async") await waitQueueEmpty();
    return await measure(pid, N, async () => {
      await drive(s.url, N, next);
      if (name === "transfer-async") await waitQueueEmpty();
    });
  } finally {
    await stop(s);
    writeWindow();
  }
}

/**
 * Transfer over gRPC: each call one HTTP/2 stream framed as gRPC frames it (a
 * length-prefixed message; the status in the trailers), C connections. A raw HTTP/2
 * client, as undici on the HTTP side: grpc-js's own client costs more than the server.
 */
async function grpcTransfer(s) {
  const pkg = protoLoader.loadSync(path.join(ROOT, "proto/wallet/v1/wallet.proto"), { keepCase: true, longs: Number });
  const method = grpc.loadPackageDefinition(pkg).wallet.v1.WalletService.service.Transfer;
  const sessions = Array.from({ length: C }, () => http2.connect(`http://127.0.0.1:${s.line.grpcPort}`));
  const call = (session, i) =>
    new Promise((resolve, reject) => {
      const body = method.requestSerialize({ destination_user_id: user(i + 1), amount: 1 });
      const frame = Buffer.concat([Buffer.alloc(5), body]);
      frame.writeUInt32BE(body.length, 1);
      let status;
      const st = session.request({
        ":method": "POST",
        ":path": "/wallet.v1.WalletService/Transfer",
        "content-type": "application/grpc",
        te: "trailers",
        authorization: String(user(i)),
      });
      st.on("response", (h) => (status ??= h["grpc-status"]));
      st.on("trailers", (h) => (status = h["grpc-status"]));
      st.on("error", reject);
      st.on("close", () => (status === "0" ? resolve() : reject(new Error(`grpc-status ${status}`))));
      st.resume();
      st.end(frame);
    });
  const run = async (n) => {
    let i = 0;
    await Promise.all(
      sessions.map(async (session) => {
        while (i < n) await call(session, i++);
      }),
    );
  };
  try {
    await run(WARM);
    return await measure(s.child.pid, N, () => run(N));
  } finally {
    for (const session of sessions) session.close();
  }
}

/** A quote and its exchange per unit (two requests). */
async function exchange(s) {
  const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, "x-actor": "bench" };
  for (const [from, to, rate] of [
    ["USD", "EUR", "0.9"],
    ["EUR", "USD", "1.1"],
  ])
    await drive(s.url, 1, () => json("PUT", `/admin/v1/fx/rates/${from}/${to}`, 0, { rate }, admin));
  const pool = new Pool(s.url, { connections: C });
  const one = async (i) => {
    const q = await pool.request(
      json("POST", "/api/fx/quotes/v1", user(i), { from_currency: "USD", to_currency: "EUR", amount: 100 }),
    );
    const quote = await q.body.json();
    if (q.statusCode >= 300) throw new Error(JSON.stringify(quote));
    const e = await pool.request(json("POST", "/api/fx/exchanges/v1", user(i), { quote_id: quote.quote_id }));
    await e.body.text();
    if (e.statusCode >= 300) throw new Error(`exchange ${e.statusCode}`);
  };
  const run = async (n) => {
    let i = 0;
    await Promise.all(
      Array.from({ length: C }, async () => {
        while (i < n) await one(i++);
      }),
    );
  };
  await run(500);
  const units = Math.round(N / 2);
  const r = await measure(s.child.pid, units, () => run(units));
  await pool.close();
  return r;
}

/** The bare server: the same body parsed (POST), or a small answer (GET). */
async function bare() {
  const out = {};
  // one process a method, so that PROFILE=1 profiles each apart
  for (const [k, next] of Object.entries({ post: SCENARIOS.transfer, get: SCENARIOS.balance })) {
    const flags = process.env.PROFILE ? profileFlags(`bare-${k}`) : [];
    const b = await start([...flags, path.join(ROOT, "bench/bare-server.mjs")], {}, "bare listening");
    try {
      await drive(b.url, WARM, next);
      out[k] = (await measure(b.child.pid, N, () => drive(b.url, N, next))).node_us;
    } finally {
      await stop(b);
      writeWindow();
    }
  }
  return out;
}

/** The database's floor: 100 transfers a call on one connection, its backend's CPU per transfer. */
async function sqlFloor() {
  psql(DB, fs.readFileSync(path.join(ROOT, "bench/sql/minimal.sql"), "utf8"));
  const client = new pg.Client({ connectionString: dbUrl(DB) });
  await client.connect();
  const { rows } = await client.query("select pg_backend_pid() as pid");
  const pid = rows[0].pid;
  const calls = Math.max(20, Math.round(N / 100));
  const { minimal, apply } = floorCalls(client, USERS, 100);
  const out = {};
  for (const [k, fn] of Object.entries({ minimal_batched: minimal, wallet_apply_batched: apply })) {
    for (let i = 0; i < 5; i++) await fn();
    const t0 = ticks(pid);
    for (let i = 0; i < calls; i++) await fn();
    out[k] = Math.round(((ticks(pid) - t0) * 10_000) / (calls * 100));
  }
  await client.end();
  return out;
}

/**
 * PAIRED=K: only the Node targets, the bare server and `wallet serve` up at once and K
 * rounds of chunks of CHUNK requests alternating between them (bare POST, transfer,
 * bare GET, cached balance; which side goes first alternates), so that the machine's
 * swings fall on both; the ratio of the totals and the median of the rounds' ratios.
 */
async function paired(rounds) {
  const CHUNK = Number(process.env.CHUNK ?? 2000);
  const b = await start([path.join(ROOT, "bench/bare-server.mjs")], {}, "bare listening");
  const s = await serveFor("paired", { ADMIN_TOKEN });
  const pairs = { transfer: ["post", SCENARIOS.transfer], balance: ["get", SCENARIOS.balance] };
  const out = {};
  try {
    for (const [name, [bareName, next]] of Object.entries(pairs)) {
      await drive(b.url, WARM, next);
      await drive(s.url, WARM, next);
      const t = { bare: [], wallet: [] };
      for (let k = 0; k < rounds; k++) {
        for (const side of k % 2 === 0 ? ["bare", "wallet"] : ["wallet", "bare"]) {
          const x = side === "bare" ? b : s;
          const t0 = ticks(x.child.pid);
          await drive(x.url, CHUNK, next);
          t[side].push(ticks(x.child.pid) - t0);
        }
      }
      const sum = (xs) => xs.reduce((a, v) => a + v, 0);
      const us = (xs) => Math.round((sum(xs) * 100_000) / (rounds * CHUNK)) / 10;
      const ratios = t.wallet.map((w, k) => (w + 0.5) / (t.bare[k] + 0.5)).sort((p, q) => p - q);
      out[name] = {
        [`bare_${bareName}_us`]: us(t.bare),
        wallet_us: us(t.wallet),
        ratio: Math.round((sum(t.wallet) / sum(t.bare)) * 100) / 100,
        rounds_median: Math.round(ratios[Math.floor(rounds / 2)] * 100) / 100,
        rounds_q1_q3: [ratios[Math.floor(rounds / 4)], ratios[Math.floor((3 * rounds) / 4)]].map(
          (v) => Math.round(v * 100) / 100,
        ),
      };
      log(`${name} against the bare ${bareName}:`, JSON.stringify(out[name]));
    }
  } finally {
    await stop(s);
    await stop(b);
  }
  return out;
}

if (process.env.PAIRED) {
  log(`fresh database ${DB} with ${USERS} wallets`);
  freshDb(DB, USERS);
  const rounds = Number(process.env.PAIRED);
  const out = {
    date: new Date().toISOString(),
    settings: { rounds, CHUNK: Number(process.env.CHUNK ?? 2000), WARM, C, USERS },
  };
  out.paired = await paired(rounds);
  dropDb(DB);
  const file = path.join(ROOT, "bench/results", `cpu-paired-${out.date.slice(0, 10)}.json`);
  fs.writeFileSync(file, JSON.stringify(out, null, 2) + "\n");
  log(`written ${path.relative(ROOT, file)}`);
  process.exit(0);
}

const results = { date: new Date().toISOString(), settings: { N, WARM, C, USERS }, scenarios: {} };
log(`fresh database ${DB} with ${USERS} wallets`);
freshDb(DB, USERS);
psql(DB, "select 1");
results.bare_us = await bare();
log("bare node:http:", JSON.stringify(results.bare_us));
results.sql_pg_us_per_transfer = await sqlFloor();
log("sql floor (backend CPU per transfer):", JSON.stringify(results.sql_pg_us_per_transfer));
for (const sc of scenarios) {
  try {
    results.scenarios[sc] = await scenario(sc);
  } catch (err) {
    results.scenarios[sc] = { error: String(err.message ?? err).slice(0, 200) };
  }
  log(`${sc}:`, JSON.stringify(results.scenarios[sc]));
}
const r = results.scenarios;
const x = (a, b) => (a && b ? Math.round((a / b) * 100) / 100 : null);
results.ratios = {
  node_transfer_vs_bare_post: x(r.transfer?.node_us, results.bare_us.post),
  node_deposit_vs_bare_post: x(r.deposit?.node_us, results.bare_us.post),
  node_balance_vs_bare_get: x(r.balance?.node_us, results.bare_us.get),
  node_grpc_transfer_vs_http_transfer: x(r["grpc-transfer"]?.node_us, r.transfer?.node_us),
  pg_wallet_apply_vs_minimal_batched: x(
    results.sql_pg_us_per_transfer.wallet_apply_batched,
    results.sql_pg_us_per_transfer.minimal_batched,
  ),
};
log("ratios:", JSON.stringify(results.ratios));
dropDb(DB);
const file = path.join(ROOT, "bench/results", `cpu-${results.date.slice(0, 10)}.json`);
fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
log(`written ${path.relative(ROOT, file)}`);
