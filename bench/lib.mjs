// What every bench script needs: the PostgreSQL admin connection, databases of their
// own, pgbench, `wallet serve` and `wallet loadtest` as child processes.
import { execFileSync, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const BIN = path.join(ROOT, "bin/wallet.js");
export const ADMIN = new URL(process.env.PG_ADMIN_URL ?? "postgres://postgres@127.0.0.1:5432/postgres");
export const pgArgs = [
  "-h",
  ADMIN.hostname,
  "-p",
  ADMIN.port || "5432",
  "-U",
  decodeURIComponent(ADMIN.username || "postgres"),
];
export const log = (...a) => process.stderr.write(a.join(" ") + "\n");
export const ratio = (a, b) => Math.round((a / b) * 100) / 100;
export const dbUrl = (name) => Object.assign(new URL(ADMIN), { pathname: `/${name}` }).toString();

export function sh(cmd, args, env = {}) {
  return execFileSync(cmd, args, { encoding: "utf8", env: { ...process.env, ...env }, maxBuffer: 64 << 20 });
}
export const psql = (db, sql) => sh("psql", [...pgArgs, "-d", db, "-XAtq", "-c", sql]).trim();
export const wallet = (db, args, env = {}, bin = BIN) =>
  sh(process.execPath, [bin, ...args], { DATABASE_URL: dbUrl(db), LOG_LEVEL: "warn", ...env });

/** A fresh database, migrated (by bin's build) and seeded with `users` wallets of a large balance. */
export function freshDb(name, users, bin = BIN) {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
  sh("createdb", [...pgArgs, name]);
  wallet(name, ["migrate"], {}, bin);
  wallet(name, ["seed", "--users", String(users), "--balance", "1000000000"], {}, bin);
}

/** Builds rev in a worktree of its own; its bin/wallet.js, and remove() to drop the tree. */
export function buildRev(rev) {
  const tree = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-rev-"));
  const run = (cmd, args, cwd) => execFileSync(cmd, args, { cwd, stdio: "ignore" });
  run("git", ["-C", ROOT, "worktree", "add", "--detach", tree, rev]);
  log(`building ${rev} in ${tree}`);
  run("npm", ["ci", "--no-audit", "--no-fund", "--ignore-scripts"], tree);
  run("npm", ["run", "build"], tree);
  return {
    bin: path.join(tree, "bin/wallet.js"),
    remove: () => run("git", ["-C", ROOT, "worktree", "remove", "--force", tree]),
  };
}
/** The migration files, in order (migrations/NNN_name.sql). */
export const migrationFiles = () =>
  fs
    .readdirSync(path.join(ROOT, "migrations"))
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort();

/**
 * A fresh database with the migrations up to `level` ("012"), each file's up part in one
 * transaction as the migrator runs it; with `candidate` (a file's path), the migrations
 * numbered below `level` and then that file instead.
 */
export function migratedDb(name, level, candidate) {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
  sh("createdb", [...pgArgs, name]);
  const dir = path.join(ROOT, "migrations");
  const number = level.slice(0, 3);
  const paths = candidate
    ? [
        ...migrationFiles()
          .filter((f) => f.slice(0, 3) < number)
          .map((f) => path.join(dir, f)),
        candidate,
      ]
    : migrationFiles()
        .filter((f) => f.slice(0, 3) <= number)
        .map((f) => path.join(dir, f));
  for (const file of paths) {
    const up = fs.readFileSync(file, "utf8").split(/^-- migrate:down\s*$/m)[0];
    const sql = `select set_config('wallet.default_currency', 'USD', true);\n${up}`;
    sh("psql", [...pgArgs, "-d", name, "-XAtq", "-v", "ON_ERROR_STOP=1", "-1", "-c", sql]);
  }
}
export const dropDb = (name) => sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);

/**
 * pgbench of one script file in bench/sql; tps, and per-item rate when each transaction does `per` items.
 * PGBENCH_MODE (simple, extended, prepared; pgbench's -M, default simple) applies to every run.
 */
export function pgbench(db, file, { clients = 64, duration = 10, users = 1000, per = 1 } = {}) {
  const out = sh("pgbench", [
    ...pgArgs,
    "-n",
    "-M",
    process.env.PGBENCH_MODE ?? "simple",
    "-c",
    String(clients),
    "-j",
    "2",
    "-T",
    String(duration),
    "-D",
    `users=${users}`,
    "-f",
    path.join(ROOT, "bench/sql", file),
    db,
  ]);
  const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(out)?.[1]);
  const failed = Number(/number of failed transactions: (\d+)/.exec(out)?.[1] ?? 0);
  if (!(tps > 0) || failed > 0) throw new Error(`pgbench ${file}: ${out}`);
  return { tps: Math.round(tps), per_s: Math.round(tps * per), clients };
}

/** Starts a node script that logs JSON lines; resolves when the line `ready` names a port. */
export function start(args, env, ready) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    child.stdout.on("data", (d) => {
      buf += d;
      for (const line of buf.split("\n")) {
        try {
          const j = JSON.parse(line);
          if (j.msg === ready) return resolve({ child, url: `http://127.0.0.1:${j.port}`, line: j });
        } catch {
          /* not a JSON line */
        }
      }
    });
    child.on("exit", (c) => reject(new Error(`${args.join(" ")} exited ${c}`)));
  });
}
export const stop = (p) =>
  new Promise((r) => (p.child.exitCode !== null ? r() : (p.child.once("exit", r), p.child.kill("SIGTERM"))));

/** `wallet serve` on a database (or on the embedded one: db null, env.DATA_DIR set). */
export const serve = (db, env = {}) =>
  start(
    [BIN, "serve"],
    {
      ...(db ? { DATABASE_URL: dbUrl(db) } : {}),
      PORT: "0",
      RATE_LIMIT_RPS: "0",
      LOG_LEVEL: "info",
      LOG_FORMAT: "json",
      ...env,
    },
    "wallet listening",
  );

/** Runs `wallet loadtest --json` as a child process (this event loop stays free for samplers). */
export function loadtest(
  url,
  scenario,
  { duration = 10, concurrency = 64, users = 1000, env = {}, seed = false } = {},
) {
  // url null: a server in the loadtest's own process (on DATABASE_URL, else a fresh embedded database)
  const args = [
    BIN,
    "loadtest",
    ...(url ? ["--api", url] : []),
    "--scenario",
    scenario,
    "--duration",
    String(duration),
  ];
  args.push("--concurrency", String(concurrency), "--users", String(users), "--json");
  if (!seed) args.push("--no-seed");
  const childEnv = { ...process.env, LOG_LEVEL: "warn", ...env };
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined || v === "") delete childEnv[k];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, {
      env: childEnv,
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    child.stdout.on("data", (d) => (text += d));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(text)) : reject(new Error(`loadtest exited ${code}`))));
  });
}

export function rssMb(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, "utf8"));
  return Math.round(Number(m[1]) / 1024);
}

export function machine() {
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    mem_gib: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    postgres: sh("psql", [...pgArgs, "-tAc", "show server_version", "postgres"]).trim(),
  };
}

export function writeResult(name, results) {
  fs.mkdirSync(path.join(ROOT, "bench/results"), { recursive: true });
  const file = path.join(ROOT, "bench/results", `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(results, null, 2) + "\n");
  log("written", file);
  return file;
}

/**
 * A drain: `queued` transfers (in thousands) accepted among `users` while no worker runs,
 * then `wallet worker` with `loops` loops until none is pending. The poll asks whether
 * any is left (a count of a long queue every 100 ms took a core's share).
 */
export async function drainQueue(db, { users, loops, queued = 100_000 }) {
  psql(
    db,
    `select count(*) from generate_series(1, ${Math.ceil(queued / 1000)}) b, lateral wallet_apply((
       select jsonb_agg(jsonb_build_object('k', 4, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', x, 'c', x % ${users} + 1, 'a', 1))
         from (select (floor(random() * ${users}) + 1)::bigint + b * 0 as x from generate_series(1, 1000)) s), false) a`,
  );
  const count = Number(psql(db, "select count(*) from transfers where status = 'pending'"));
  const t0 = Date.now();
  const w = await start(
    [BIN, "worker"],
    { DATABASE_URL: dbUrl(db), TRANSFER_WORKERS: String(loops), LOG_FORMAT: "json" },
    "wallet worker running",
  );
  while (psql(db, "select exists (select 1 from transfers where status = 'pending')") === "t")
    await new Promise((r) => setTimeout(r, 100));
  const seconds = (Date.now() - t0) / 1000;
  await stop(w);
  return { queued: count, seconds, per_s: Math.round(count / seconds) };
}

/**
 * The database's floor on one connection: calls of the minimal transfer function and of
 * wallet_apply, each moving `batch` random transfers of 1 cent among `users` (the
 * minimal function from bench/sql/minimal.sql, loaded by the caller). Used by cpu.mjs
 * and pg-perf.mjs.
 */
export function floorCalls(client, users, batch) {
  const pairs = () => {
    const from = Array.from({ length: batch }, () => Math.floor(Math.random() * users) + 1);
    return { from, to: from.map((x) => (x % users) + 1) };
  };
  return {
    minimal: async () => {
      const { from, to } = pairs();
      await client.query({ name: "min", text: "select minimal_transfer($1, $2, 1)", values: [from, to] });
    },
    apply: async () => {
      const { from, to } = pairs();
      const ops = from.map((u, k) => ({ k: 3, cur: "USD", id: null, u, c: to[k], a: 1 }));
      await client.query({
        name: "apply",
        text: "select count(*) from wallet_apply((select jsonb_agg(x || jsonb_build_object('id', wallet_next_id()::text)) from jsonb_array_elements($1::jsonb) x), false)",
        values: [JSON.stringify(ops)],
      });
    },
  };
}
