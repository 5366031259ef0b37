#!/usr/bin/env node
// Transfer v1 over gRPC against transfer v1 over HTTP/1.1, one `wallet serve` (HTTP and
// GRPC_PORT) on a fresh PostgreSQL database, same run, same machine. HTTP: `wallet
// loadtest --scenario transfer` (CONCURRENCY connections, one request in flight each).
// gRPC: the loop below, CONCURRENCY calls in flight multiplexed over CONNECTIONS HTTP/2
// connections, the same requests (a random payer, another random payee, 1 cent). Rounds
// alternate which protocol goes first; the report gives each side's median and the
// ratio grpc/http. The ledger is verified at the end.
//   node bench/grpc.mjs           (after npm run build, with PostgreSQL on 127.0.0.1)
// Env: DURATION (s, default 10), ROUNDS (3), CONCURRENCY (64), CONNECTIONS (2), USERS (1000),
//      CLIENT (http2 | grpc-js), PG_ADMIN_URL, OUT (default bench/results/grpc-<date>.json).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import http2 from "node:http2";
import net from "node:net";
import path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { BIN, dbUrl, log, pgArgs, ROOT } from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 64);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 2);
const USERS = Number(process.env.USERS ?? 1000);
const sh = (cmd, args, opts = {}) => execFileSync(cmd, args, { encoding: "utf8", maxBuffer: 64 << 20, ...opts });

function freePort() {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function serve(url, grpcPort) {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: url, PORT: "0", GRPC_PORT: String(grpcPort), RATE_LIMIT_RPS: "0" };
    const child = spawn(process.execPath, [BIN, "serve"], {
      env: { ...env, LOG_LEVEL: "info", LOG_FORMAT: "json" },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        try {
          const j = JSON.parse(line);
          if (j.msg === "wallet listening") resolve({ child, http: `http://127.0.0.1:${j.port}`, grpc: j.grpcPort });
        } catch {
          /* not JSON, or not yet a whole line */
        }
      }
    });
    child.on("exit", (c) => reject(new Error(`serve exited ${c}`)));
  });
}
/** CPU seconds a process has used (user + system), from /proc: where each protocol's cost lands. */
function cpuSeconds(pid) {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return NaN;
  }
}
const stop = (s) => new Promise((r) => (s.child.once("exit", r), s.child.kill("SIGTERM")));

function http(url) {
  const args = [BIN, "loadtest", "--api", url, "--scenario", "transfer", "--duration", String(DURATION)];
  args.push("--concurrency", String(CONCURRENCY), "--users", String(USERS), "--no-seed", "--json");
  const env = { ...process.env, LOG_LEVEL: "warn" };
  delete env.DATABASE_URL;
  // bash's time: the generator's CPU (its start and ledger check included), to set beside the gRPC loop's
  const run = spawnSync("bash", ["-c", 'TIMEFORMAT="%U %S"; time "$@"', "_", process.execPath, ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 64 << 20,
  });
  if (run.status !== 0) throw new Error(`loadtest failed: ${run.stderr}`);
  const [user, system] = run.stderr.trim().split("\n").at(-1).split(" ").map(Number);
  const r = JSON.parse(run.stdout);
  const cpu = Math.round(((user + system) * 1e6) / (r.throughput_rps * DURATION));
  const errors = Object.values(r.errors ?? {}).reduce((a, b) => a + b, 0);
  return {
    rps: r.throughput_rps,
    p50_ms: r.latency_ms.p50,
    p99_ms: r.latency_ms.p99,
    errors,
    client_cpu_us_per_request: cpu,
  };
}

const pkg = protoLoader.loadSync(path.join(ROOT, "proto/wallet/v1/wallet.proto"), {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
});
const Wallet = grpc.loadPackageDefinition(pkg).wallet.v1.WalletService;

const TRANSFER = Wallet.service.Transfer;

/**
 * One transfer call per HTTP/2 stream, as gRPC frames it: a length-prefixed message,
 * the status in the trailers (or in the headers of a trailers-only answer). The load
 * generator shares two cores with the server and PostgreSQL, and grpc-js's client
 * spends more CPU per call than the server does: measured with it (CLIENT=grpc-js),
 * the figure is mostly the client's. undici plays this part on the HTTP side.
 */
function h2Client(port) {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => undefined);
  return {
    transfer: (from, to) =>
      new Promise((resolve) => {
        const body = TRANSFER.requestSerialize({ destination_user_id: to, amount: 1 });
        const frame = Buffer.concat([Buffer.alloc(5), body]); // not compressed, then the length
        frame.writeUInt32BE(body.length, 1);
        let status;
        const st = session.request({ ...H2_HEADERS, authorization: String(from) });
        st.on("response", (h) => (status ??= h["grpc-status"]));
        st.on("trailers", (h) => (status = h["grpc-status"]));
        st.on("error", () => undefined);
        st.on("close", () => resolve(status === "0"));
        st.resume();
        st.end(frame);
      }),
    close: () => session.close(),
  };
}
const H2_HEADERS = {
  ":method": "POST",
  ":path": "/wallet.v1.WalletService/Transfer",
  "content-type": "application/grpc",
  te: "trailers",
};

function grpcJsClient(port) {
  // a local subchannel pool per client: otherwise grpc-js shares one connection between them
  const opts = { "grpc.use_local_subchannel_pool": 1, "grpc.enable_channelz": 0, "grpc.enable_retries": 0 };
  const client = new Wallet(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), opts);
  return {
    transfer: (from, to) =>
      new Promise((resolve) => {
        const md = new grpc.Metadata();
        md.set("authorization", String(from));
        client.Transfer({ destination_user_id: to, amount: 1 }, md, (err) => resolve(!err));
      }),
    close: () => client.close(),
  };
}
const CLIENT = process.env.CLIENT ?? "http2";

async function viaGrpc(port) {
  const clients = Array.from({ length: CONNECTIONS }, () => (CLIENT === "grpc-js" ? grpcJsClient : h2Client)(port));
  const rnd = () => 1 + Math.floor(Math.random() * USERS);
  const other = (u) => 1 + ((u + Math.floor(Math.random() * (USERS - 1))) % USERS);
  await Promise.all(clients.map((c) => c.transfer(1, 2))); // connected before the clock starts
  const latencies = [];
  let errors = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const end = started + DURATION * 1000;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_v, i) => {
      const client = clients[i % CONNECTIONS];
      while (performance.now() < end) {
        const from = rnd();
        const t0 = performance.now();
        if (await client.transfer(from, other(from))) latencies.push(performance.now() - t0);
        else errors++;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  for (const c of clients) c.close();
  latencies.sort((a, b) => a - b);
  const pct = (p) => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))] * 10) / 10;
  const { user, system } = process.cpuUsage(cpu);
  const rps = Math.round(latencies.length / seconds);
  return {
    rps,
    p50_ms: pct(0.5),
    p99_ms: pct(0.99),
    errors,
    client_cpu_us_per_request: Math.round((user + system) / latencies.length),
  };
}

const name = `wallet_grpc_bench_${process.pid}`;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const runs = { http: [], grpc: [] };
sh("createdb", [...pgArgs, name]);
try {
  const url = dbUrl(name);
  const env = { ...process.env, DATABASE_URL: url, LOG_LEVEL: "warn" };
  sh(process.execPath, [BIN, "migrate"], { env });
  sh(process.execPath, [BIN, "seed", "--users", String(USERS), "--balance", "1000000000"], { env });
  const s = await serve(url, await freePort());
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // alternate which goes first, so that neither always meets a warmer machine
      for (const side of round % 2 === 0 ? ["http", "grpc"] : ["grpc", "http"]) {
        const cpu = cpuSeconds(s.child.pid);
        const r = side === "http" ? http(s.http) : await viaGrpc(s.grpc);
        r.server_cpu_us_per_request = Math.round(((cpuSeconds(s.child.pid) - cpu) * 1e6) / (r.rps * DURATION));
        runs[side].push(r);
        log(`round ${round + 1} ${side}: ${JSON.stringify(r)}`);
      }
    }
  } finally {
    await stop(s);
  }
  sh(process.execPath, [BIN, "verify"], { env }); // exits 1 on a violation
} finally {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
}
const h = median(runs.http.map((r) => r.rps));
const g = median(runs.grpc.map((r) => r.rps));
const results = {
  date: new Date().toISOString(),
  settings: { DURATION, ROUNDS, CONCURRENCY, CONNECTIONS, USERS },
  runs,
  http_median_rps: h,
  grpc_median_rps: g,
  ratio: Math.round((g / h) * 1000) / 1000,
  target: ">= 1.0",
};
const out = process.env.OUT ?? path.join(ROOT, "bench/results", `grpc-${results.date.slice(0, 10)}.json`);
fs.mkdirSync(path.dirname(out), { recursive: true });
fs.writeFileSync(out, JSON.stringify(results, null, 2) + "\n");
process.stdout.write(JSON.stringify({ http_median_rps: h, grpc_median_rps: g, ratio: results.ratio }, null, 2) + "\n");
log("written", out);
