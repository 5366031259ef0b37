import { execFile, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { etcdArgs, writeLayout, type Layout } from "./patroni/config.js";
import * as p from "./patroni/processes.js";
import * as rest from "./patroni/rest.js";

const run = promisify(execFile);
type Node = Layout["nodes"][number] & { child?: ChildProcess };
export type { Member } from "./patroni/rest.js";

/**
 * A highly available PostgreSQL of the test's own, on loopback: one etcd, Patroni
 * nodes (PostgreSQL 15, synchronous mode, run as the postgres OS user) and one
 * HAProxy with a primary port and a replica port, each server checked through
 * Patroni's REST API. Everything lives in one temp dir, on free ports, and goes
 * away with destroy(), or with the test process.
 */
export class PatroniCluster {
  private etcd?: ChildProcess;
  private haproxy?: ChildProcess;
  private destroyed = false;
  private readonly forget: () => void;
  readonly scope: string;
  readonly nodes: Node[];
  readonly ports: Layout["ports"];

  private constructor(
    readonly dir: string,
    layout: Layout,
  ) {
    ({ scope: this.scope, nodes: this.nodes, ports: this.ports } = layout);
    this.forget = p.onExit(() => this.killNow());
  }

  static async create(opts: { nodes?: number } = {}): Promise<PatroniCluster> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-patroni-"));
    const c = new PatroniCluster(dir, await writeLayout(dir, opts.nodes ?? 2));
    try {
      await run("chown", ["-R", "postgres:postgres", dir]);
      c.etcd = await p.startEtcd(dir, etcdArgs(dir, c.ports.etcd, c.ports.etcdPeer), c.ports.etcd);
      // started together: one wins the race to initialize the cluster, the others clone it
      for (const n of c.nodes) c.startNode(n);
      await c.waitForLeader(90_000);
      await c.waitForReplicaStreaming(90_000);
      const cfg = ["-db", "-f", path.join(dir, "haproxy.cfg")];
      c.haproxy = p.spawnLogged("/usr/sbin/haproxy", cfg, { cwd: dir, log: path.join(dir, "haproxy.log") });
      await c.waitForProxy();
      return c;
    } catch (e) {
      await c.destroy();
      throw e;
    }
  }

  writeUrl(database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.ports.primary}/${database}`;
  }

  readUrl(database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.ports.replica}/${database}`;
  }

  nodeUrl(name: string, database = "postgres"): string {
    return `postgres://postgres@127.0.0.1:${this.node(name).pgPort}/${database}`;
  }

  async psql(sql: string, database = "postgres", url = this.writeUrl(database)): Promise<string> {
    const { stdout } = await run("psql", [url, "-XAtq", "-v", "ON_ERROR_STOP=1", "-c", sql], {
      env: { ...process.env, PGCONNECT_TIMEOUT: "3" },
    });
    return stdout.trim();
  }

  async patronictl(...args: string[]): Promise<string> {
    const { stdout } = await run("patronictl", ["-c", path.join(this.dir, "patronictl.yml"), ...args, this.scope]);
    return stdout;
  }

  /** The cluster as Patroni sees it. */
  members(): Promise<rest.Member[]> {
    return rest.members(this.nodes.filter((n) => p.running(n.child)).map((n) => n.apiPort));
  }

  /** The running leader's name, if there is one now. */
  async leader(): Promise<string | undefined> {
    return (await this.members()).find((m) => m.role === "leader" && m.state === "running")?.name;
  }

  /** Waits for a leader (other than `except`) whose PostgreSQL accepts writes; its name. */
  async waitForLeader(timeoutMs = 30_000, except?: string): Promise<string> {
    return p.until(`a leader${except ? ` other than ${except}` : ""}`, timeoutMs, async () => {
      const name = await this.leader();
      if (!name || name === except) return undefined;
      return (await this.psql("select pg_is_in_recovery()", "postgres", this.nodeUrl(name))) === "f" && name;
    });
  }

  /**
   * Waits until every node whose Patroni runs streams from the leader, one of them
   * as the synchronous standby, and (once HAProxy runs) the ports route to them.
   */
  async waitForReplicaStreaming(timeoutMs = 60_000): Promise<void> {
    await p.until("replicas streaming", timeoutMs, async () => {
      const members = await this.members();
      const leader = members.find((m) => m.role === "leader" && m.state === "running")?.name;
      if (!leader) return false;
      const walsenders = await rest.replication(this.node(leader).apiPort);
      const others = this.nodes.filter((n) => n.name !== leader && p.running(n.child));
      const streaming = (n: Node) => walsenders.some((s) => s.application_name === n.name && s.state === "streaming");
      // only the standby Patroni has named synchronous (in etcd) may be promoted
      const sync = walsenders.some((s) => s.sync_state === "sync") && members.some((m) => m.role === "sync_standby");
      return others.every(streaming) && (others.length === 0 || sync);
    });
    if (this.haproxy) await this.waitForProxy();
  }

  /** Waits until HAProxy routes the primary port to the leader alone, the replica port to the running replicas. */
  async waitForProxy(timeoutMs = 15_000): Promise<void> {
    await p.until("HAProxy to route to the leader and the replicas", timeoutMs, async () => {
      const ms = (await this.members()).filter((m) => m.state === "running");
      const leader = ms.filter((m) => m.role === "leader").map((m) => m.name);
      const replicas = ms.filter((m) => m.role !== "leader").map((m) => m.name);
      const up = await p.haproxyUp(path.join(this.dir, "haproxy.sock"));
      const same = (a: string[] = [], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));
      return leader.length === 1 && same(up.primary, leader) && same(up.replica, replicas);
    });
  }

  /** A planned switchover with patronictl to `candidate` (default: the synchronous standby); the new leader. */
  async switchover(candidate?: string): Promise<string> {
    await this.waitForReplicaStreaming();
    const members = await this.members();
    const leader = members.find((m) => m.role === "leader")!.name;
    const to = candidate ?? members.find((m) => m.role === "sync_standby")?.name;
    if (!to) throw new Error("no synchronous standby to switch over to");
    await this.patronictl("switchover", "--leader", leader, "--candidate", to, "--force");
    const now = await this.waitForLeader(60_000, leader);
    if (now !== to) throw new Error(`switched over to ${now}, not ${to}`);
    await this.waitForProxy();
    return now;
  }

  /**
   * Kills the leader's Patroni and its postmaster at once (SIGKILL), as a lost
   * machine would: nothing restarts PostgreSQL in place, so the leader key expires
   * (ttl) and the synchronous standby is promoted. The killed node's name.
   */
  async killLeader(): Promise<string> {
    const name = await this.leader();
    if (!name) throw new Error("no leader to kill");
    const n = this.node(name);
    const postmaster = p.postmasterPid(`${n.dir}/data`);
    p.killQuietly(n.child!.pid, "SIGKILL");
    p.killQuietly(postmaster, "SIGKILL");
    await p.exited(n.child!);
    return name;
  }

  /** Starts a killed node's Patroni again and waits until it streams as a replica (rewound if it must be). */
  async restartNode(name: string): Promise<void> {
    const n = this.node(name);
    if (p.running(n.child)) throw new Error(`${name} is running`);
    // a killed postmaster's backends leave on their own; a new one would not start beside them
    const orphans = () => p.processesIn(`${n.dir}/data`);
    await p
      .until(`${name}'s orphaned backends to end`, 10_000, async () => orphans().length === 0)
      .catch(() => {
        for (const pid of orphans()) p.killQuietly(pid, "SIGKILL");
      });
    this.startNode(n);
    await p.until(`${name} to run as a replica`, 90_000, async () => {
      const m = (await this.members()).find((m) => m.name === name);
      return m?.state === "running" && m.role !== "leader";
    });
    await this.waitForReplicaStreaming();
  }

  /** recovery_min_apply_delay on the replicas (0: none), through Patroni's dynamic configuration. */
  async setReplicaApplyDelay(ms: number): Promise<void> {
    const leader = await this.waitForLeader();
    const delay = ms > 0 ? `${ms}ms` : null; // null: back to PostgreSQL's default
    await rest.patchConfig(this.node(leader).apiPort, {
      postgresql: { parameters: { recovery_min_apply_delay: delay } },
    });
    const sql = "select setting from pg_settings where name = 'recovery_min_apply_delay'";
    for (const m of (await this.members()).filter((m) => m.role !== "leader" && m.state === "running")) {
      await p.until(`${m.name} to apply with a ${ms} ms delay`, 30_000, async () => {
        return (await this.psql(sql, "postgres", this.nodeUrl(m.name))) === String(ms);
      });
    }
  }

  /** The last lines of a node's logs (Patroni's, then PostgreSQL's), for a failing test to print. */
  logTail(name: string, lines = 30): string {
    const n = this.node(name);
    const tail = (f: string) =>
      fs.existsSync(f) ? fs.readFileSync(f, "utf8").split("\n").slice(-lines).join("\n") : "";
    return `${tail(`${n.dir}/patroni.log`)}\n${tail(`${n.dir}/postgres.log`)}`;
  }

  /** Every process the cluster started that is still alive (none, once destroyed). */
  leftovers(): number[] {
    const children = [this.etcd, this.haproxy, ...this.nodes.map((n) => n.child)].filter(p.running);
    const pids = children.map((c) => c.pid!).filter(p.alive); // a zombie not yet reaped is dead
    return [...new Set([...pids, ...p.processesIn(this.dir)])];
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    // Patroni first, or it would start PostgreSQL again; then an immediate shutdown
    for (const n of this.nodes) p.killQuietly(n.child?.pid, "SIGKILL");
    for (const n of this.nodes) p.killQuietly(p.postmasterPid(`${n.dir}/data`), "SIGQUIT");
    p.killQuietly(this.haproxy?.pid, "SIGKILL");
    p.killQuietly(this.etcd?.pid, "SIGKILL");
    const ended = async () => this.leftovers().length === 0;
    await p.until("the cluster's processes to end", 10_000, ended).catch(() => this.killNow());
    await p.until("the cluster's processes to end", 5_000, ended);
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
    this.forget();
  }

  /** Synchronous, for the exit hook: SIGKILL everything, remove the dir. */
  killNow(): void {
    for (const n of this.nodes) p.killQuietly(p.postmasterPid(`${n.dir}/data`), "SIGKILL");
    for (const pid of this.leftovers()) p.killQuietly(pid, "SIGKILL");
    // a signalled process may still write a file or two: remove the dir once all are dead
    p.waitSync(3000, () => this.leftovers().length === 0);
    fs.rmSync(this.dir, { recursive: true, force: true, maxRetries: 3 });
  }

  private node(name: string): Node {
    const n = this.nodes.find((n) => n.name === name);
    if (!n) throw new Error(`no node ${name}`);
    return n;
  }

  private startNode(n: Node): void {
    const user = p.postgresUser();
    n.child = p.spawnLogged("/usr/bin/patroni", [n.config], { cwd: n.dir, log: `${n.dir}/postgres.log`, user });
  }
}
