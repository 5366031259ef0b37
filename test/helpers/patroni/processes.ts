/** Process, polling and HAProxy plumbing of the Patroni harness. */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls fn until it returns a value (not undefined or false), or fails with what it waited for. */
export async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | undefined | false>): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ""}`);
    await sleep(200);
  }
}

/** The uid and gid of the postgres OS user, whom PostgreSQL (and so Patroni) must run as. */
export function postgresUser(): { uid: number; gid: number } {
  const line = fs
    .readFileSync("/etc/passwd", "utf8")
    .split("\n")
    .find((l) => l.startsWith("postgres:"));
  if (!line) throw new Error("no postgres OS user");
  const [, , uid, gid] = line.split(":");
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * Starts a process with its output appended to a log file and its working
 * directory in the cluster's dir, which is how every process of the cluster
 * (including PostgreSQL's, which Patroni detaches) is found again. `user` is set
 * on the process itself, not through runuser, which would stay in between as the
 * parent and take a SIGKILL meant for Patroni.
 */
export function spawnLogged(
  cmd: string,
  args: string[],
  opts: { cwd: string; log: string; user?: { uid: number; gid: number } },
): ChildProcess {
  const fd = fs.openSync(opts.log, "a");
  try {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      stdio: ["ignore", fd, fd],
      ...opts.user,
      env: { PATH: process.env.PATH, HOME: opts.cwd, LANG: "C.UTF-8" },
    });
    child.on("error", () => undefined); // reported by the wait that follows
    return child;
  } finally {
    fs.closeSync(fd);
  }
}

export function running(child?: ChildProcess): child is ChildProcess {
  return !!child && child.exitCode === null && child.signalCode === null;
}

export async function exited(child: ChildProcess): Promise<void> {
  if (!running(child)) return;
  await new Promise((r) => child.once("exit", r));
}

/** Alive, and not a zombie waiting for its parent. */
export function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Every live process whose working directory is dir or below it (still so once dir is deleted). */
export function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = fs.readlinkSync(`/proc/${entry}/cwd`);
      if ((cwd === dir || cwd.startsWith(`${dir}/`) || cwd.startsWith(`${dir} `)) && alive(Number(entry)))
        pids.push(Number(entry));
    } catch {
      /* gone, or not ours to read */
    }
  }
  return pids;
}

/** Blocks (for exit hooks, where nothing asynchronous runs) until done() or timeoutMs. */
export function waitSync(timeoutMs: number, done: () => boolean): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  for (const end = Date.now() + timeoutMs; !done() && Date.now() < end;) Atomics.wait(cell, 0, 0, 20);
}

export function postmasterPid(dataDir: string): number | undefined {
  try {
    const pid = Number(fs.readFileSync(`${dataDir}/postmaster.pid`, "utf8").split("\n")[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function killQuietly(pid: number | undefined, signal: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(pid, signal);
  } catch {
    /* already gone */
  }
}

export async function portClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, "127.0.0.1", () => (s.destroy(), resolve(false)));
    s.on("error", () => resolve(true));
  });
}

/** HAProxy's view: for each proxy (primary, replica), the servers it considers UP. */
export async function haproxyUp(socket: string): Promise<Record<string, string[]>> {
  const text = await new Promise<string>((resolve, reject) => {
    let out = "";
    const s = net.connect(socket, () => s.write("show stat\n"));
    s.on("data", (d) => (out += d));
    s.on("end", () => resolve(out));
    s.on("error", reject);
  });
  const [header, ...rows] = text.trim().split("\n");
  const cols = header!.replace(/^# /, "").split(",");
  const [px, sv, st] = ["pxname", "svname", "status"].map((c) => cols.indexOf(c));
  const up: Record<string, string[]> = {};
  for (const row of rows) {
    const f = row.split(",");
    if (f[sv!] === "FRONTEND" || f[sv!] === "BACKEND") continue;
    (up[f[px!]!] ??= []).push(...(f[st!] === "UP" ? [f[sv!]!] : []));
  }
  return up;
}

/** Cleanups to run, synchronously, if the test process exits (or is stopped) before they ran. */
const pending = new Set<() => void>();
function runPending() {
  for (const f of pending) f();
  pending.clear();
}
process.once("exit", runPending);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    runPending();
    process.kill(process.pid, sig);
  });
}
export function onExit(cleanup: () => void): () => void {
  pending.add(cleanup);
  return () => pending.delete(cleanup);
}

/** etcd, once it says it is healthy. */
export async function startEtcd(dir: string, args: string[], clientPort: number): Promise<ChildProcess> {
  const child = spawnLogged("/usr/bin/etcd", args, { cwd: dir, log: `${dir}/etcd.log` });
  await until("etcd", 20_000, async () => {
    const r = await fetch(`http://127.0.0.1:${clientPort}/health`, { signal: AbortSignal.timeout(1000) });
    return r.ok && ((await r.json()) as { health: string }).health === "true";
  });
  return child;
}
