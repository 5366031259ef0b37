/**
 * The Patroni harness itself, on loopback (etcd, two PostgreSQL nodes in
 * synchronous mode, HAProxy): writes through the primary port, reads (and only
 * reads) through the replica port, a planned switchover, a failover after the
 * leader is killed with every acknowledged write kept, the killed node back as a
 * replica, a replica made to lag, and nothing left behind. Also that deploy/ha
 * deploys the settings proven here.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CONFIG_KEYS } from "../../src/core/config.js";
import { ROOT } from "../helpers/cli.js";
import { PatroniCluster } from "../helpers/patroni.js";
import { DCS, haproxyChecks } from "../helpers/patroni/config.js";
import { portClosed, until } from "../helpers/patroni/processes.js";

const timings: Record<string, number> = {};
const since = (t: number) => Date.now() - t;

describe("a Patroni cluster on loopback", () => {
  let c: PatroniCluster;
  let killed: string;

  /** Writes through the primary port until a write succeeds (as a client that retries would). */
  const writeThroughPrimary = (id: number, note: string) =>
    until(`a write of row ${id} through the primary port`, 30_000, async () => {
      await c.psql(`insert into t values (${id}, '${note}') on conflict (id) do nothing`, "wallet");
      return true;
    });
  const onReplica = (sql: string) => c.psql(sql, "wallet", c.readUrl("wallet"));
  const pgPort = (name: string) => String(c.nodes.find((n) => n.name === name)!.pgPort);

  beforeAll(async () => {
    const t = Date.now();
    c = await PatroniCluster.create({ nodes: 2 });
    timings.create = since(t);
  });

  afterEach((ctx) => {
    if (ctx.task.result?.state !== "fail" || !c) return;
    for (const n of c.nodes) console.error(`--- ${n.name}\n${c.logTail(n.name)}`);
  });

  afterAll(async () => {
    await c?.destroy();
    console.info(`cluster timings (ms): ${JSON.stringify(timings)}`);
  });

  it("writes through the primary port and reads from the replica, which refuses writes", async () => {
    await c.psql("create database wallet");
    await c.psql("create table t (id int primary key, note text not null)", "wallet");
    await c.psql("insert into t values (1, 'first')", "wallet");
    // a synchronous commit waits for the standby to flush the WAL, not to replay it
    expect(await until("row 1 on the replica", 5_000, () => onReplica("select note from t where id = 1"))).toBe(
      "first",
    );
    expect(await onReplica("select pg_is_in_recovery()")).toBe("t");
    expect(await c.psql("select pg_is_in_recovery()", "wallet")).toBe("f");
    await expect(onReplica("insert into t values (2, 'refused')")).rejects.toThrow(/read-only transaction/);
  });

  it("switches over on request: the leader changes and the primary port writes to the new one", async () => {
    const before = (await c.leader())!;
    const t = Date.now();
    const after = await c.switchover();
    timings.switchoverToNewLeaderAndProxy = since(t);
    expect(after).not.toBe(before);
    await writeThroughPrimary(2, "after the switchover");
    timings.switchoverToWrite = since(t);
    expect(await c.psql("select inet_server_port()", "wallet")).toBe(pgPort(after));
    await c.waitForReplicaStreaming();
    timings.switchoverToOldLeaderStreaming = since(t);
    expect(await onReplica("select inet_server_port()")).toBe(pgPort(before));
  });

  it("fails over when the leader is killed, and keeps every acknowledged write", async () => {
    await c.waitForReplicaStreaming();
    await c.psql("insert into t values (3, 'acknowledged just before the kill')", "wallet");
    const t = Date.now();
    killed = await c.killLeader();
    const leader = await c.waitForLeader(30_000, killed);
    timings.failoverToNewLeader = since(t);
    await writeThroughPrimary(4, "after the failover");
    timings.failoverToWrite = since(t);
    expect(timings.failoverToWrite).toBeLessThan(35_000);
    expect(await c.psql("select inet_server_port()", "wallet")).toBe(pgPort(leader));
    expect(await c.psql("select string_agg(id::text, ',' order by id) from t", "wallet")).toBe("1,2,3,4");
  });

  it("brings the killed node back, as a replica of the new leader", async () => {
    const t = Date.now();
    await c.restartNode(killed);
    timings.rejoin = since(t);
    const members = await c.members();
    expect(members.find((m) => m.name === killed)?.role).toBe("sync_standby");
    expect(await onReplica("select inet_server_port()")).toBe(pgPort(killed));
    await writeThroughPrimary(5, "after the rejoin");
    expect(await until("row 5 on the replica", 5_000, () => onReplica("select note from t where id = 5"))).toBe(
      "after the rejoin",
    );
  });

  it("makes the replica lag on request", async () => {
    await c.setReplicaApplyDelay(3000);
    const t = Date.now();
    await c.psql("insert into t values (6, 'delayed')", "wallet"); // still acknowledged at once
    expect(since(t)).toBeLessThan(2000);
    expect(await onReplica("select count(*) from t where id = 6")).toBe("0");
    await until(
      "row 6 on the replica",
      10_000,
      async () => (await onReplica("select count(*) from t where id = 6")) === "1",
    );
    timings.delayedRowVisible = since(t);
    expect(timings.delayedRowVisible).toBeGreaterThanOrEqual(2500);
    await c.setReplicaApplyDelay(0);
  });

  it("leaves no process, port or temp dir behind", async () => {
    const ports = [...Object.values(c.ports), ...c.nodes.flatMap((n) => [n.pgPort, n.apiPort])];
    const t = Date.now();
    await c.destroy();
    timings.destroy = since(t);
    expect(c.leftovers()).toEqual([]);
    expect(fs.existsSync(c.dir)).toBe(false);
    for (const port of ports) expect(await portClosed(port), `port ${port}`).toBe(true);
  });
});

describe("deploy/ha", () => {
  const dir = path.join(ROOT, "deploy/ha");
  type Service = { image?: string; build?: unknown; environment?: Record<string, string>; command?: string[] };
  const compose = parse(fs.readFileSync(path.join(dir, "docker-compose.yml"), "utf8"), { merge: true }) as {
    services: Record<string, Service>;
  };

  it("runs the topology of the harness: etcd, two Patroni nodes, HAProxy, two wallets, Redis, NATS", () => {
    expect(Object.keys(compose.services).sort()).toEqual(
      ["etcd", "haproxy", "nats", "patroni1", "patroni2", "redis", "wallet1", "wallet2"].sort(),
    );
    for (const [name, s] of Object.entries(compose.services)) {
      if (!s.build) expect(s.image, name).toMatch(/:v?\d+\.\d+\.\d+$/); // pinned
    }
    expect(compose.services.nats!.command).toContain("-js");
  });

  it("gives Patroni the cluster-wide settings proven here, and HAProxy the same checks", () => {
    const patroni = parse(fs.readFileSync(path.join(dir, "patroni.yml"), "utf8")) as any;
    expect(patroni.bootstrap.dcs).toEqual(DCS);
    expect(patroni.etcd3).toBeDefined();
    const cfg = fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8");
    for (const role of ["primary", "replica"] as const) {
      const section = cfg.split(/^listen /m).find((s) => s.startsWith(role))!;
      expect(section, role).toBeDefined();
      for (const line of haproxyChecks(role)) expect(section, role).toContain(line);
      expect(section.match(/^\s+server /gm), role).toHaveLength(2);
    }
  });

  it("points each wallet's writes at HAProxy's primary port and its reads at the replica port", () => {
    const primary = /listen primary\s+bind :(\d+)/.exec(fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8"))![1];
    const replica = /listen replica\s+bind :(\d+)/.exec(fs.readFileSync(path.join(dir, "haproxy.cfg"), "utf8"))![1];
    for (const name of ["wallet1", "wallet2"]) {
      const env = compose.services[name]!.environment!;
      expect(compose.services[name]!.command).toEqual(["serve"]);
      expect(env.DATABASE_URL).toMatch(new RegExp(`@haproxy:${primary}/`));
      expect(env.DATABASE_READ_URL).toMatch(new RegExp(`@haproxy:${replica}/`));
      expect(env.REDIS_URL).toBe("redis://redis:6379");
      expect(env.NATS_URL).toBe("nats://nats:4222");
      for (const key of Object.keys(env)) expect(CONFIG_KEYS, `${name}: ${key}`).toContain(key);
    }
  });
});
