/**
 * The settings of the loopback cluster, shared by the harness and the checks that
 * deploy/ha says the same: Patroni's cluster-wide (DCS) settings, the per-node file,
 * HAProxy's health checks, etcd's flags.
 */
import fs from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import { freePort } from "../privatePostgres.js";

export const PG_BIN = "/usr/lib/postgresql/15/bin";

/**
 * Written to etcd once, at bootstrap. ttl bounds how long a dead leader holds the
 * leader key (so, how long a failover takes); Patroni wants
 * loop_wait + 2 * retry_timeout <= ttl, or a slow etcd call could cost a healthy
 * leader its key. Synchronous mode: a commit is acknowledged only once the sync
 * standby has it, and only that standby may be promoted, so no acknowledged write is
 * lost on failover. Not strict: alone, the primary goes on accepting writes.
 */
export const DCS = {
  ttl: 10,
  loop_wait: 1,
  retry_timeout: 4,
  maximum_lag_on_failover: 1048576,
  synchronous_mode: true,
  synchronous_mode_strict: false,
  postgresql: {
    // a crashed leader may have WAL the new one never got: rewind it, not rebuild it
    use_pg_rewind: true,
    use_slots: true,
    parameters: {
      wal_level: "replica",
      hot_standby: "on",
      max_connections: 200,
      max_wal_senders: 10,
      max_replication_slots: 10,
      wal_log_hints: "on", // pg_rewind needs it (no data checksums)
    },
  },
};

/** One backend per role, each server checked through its Patroni REST API. */
export function haproxyChecks(role: "primary" | "replica"): string[] {
  return [
    `option httpchk OPTIONS /${role}`,
    "http-check expect status 200",
    // a demoted primary's sessions are cut as soon as it is marked down
    "default-server inter 1s fall 2 rise 1 on-marked-down shutdown-sessions",
  ];
}

export type NodeSpec = { name: string; dir: string; pgPort: number; apiPort: number };

export function patroniYaml(scope: string, etcdPort: number, n: NodeSpec): string {
  return stringify({
    scope,
    namespace: "/wallet/",
    name: n.name,
    log: { level: "INFO", dir: n.dir },
    restapi: { listen: `127.0.0.1:${n.apiPort}`, connect_address: `127.0.0.1:${n.apiPort}` },
    etcd3: { hosts: `127.0.0.1:${etcdPort}` },
    bootstrap: {
      dcs: DCS,
      initdb: [{ encoding: "UTF8" }, { locale: "C" }, "data-checksums", { auth: "trust" }],
    },
    postgresql: {
      listen: `127.0.0.1:${n.pgPort}`,
      connect_address: `127.0.0.1:${n.pgPort}`,
      data_dir: `${n.dir}/data`,
      bin_dir: PG_BIN,
      pgpass: `${n.dir}/pgpass`,
      authentication: {
        superuser: { username: "postgres" },
        replication: { username: "replicator" },
        rewind: { username: "postgres" },
      },
      parameters: { unix_socket_directories: n.dir },
      pg_hba: [
        "local all all trust",
        "host replication replicator 127.0.0.1/32 trust",
        "host all all 127.0.0.1/32 trust",
      ],
    },
    watchdog: { mode: "off" },
  });
}

export function patronictlYaml(scope: string, etcdPort: number): string {
  return stringify({ scope, namespace: "/wallet/", etcd3: { hosts: `127.0.0.1:${etcdPort}` } });
}

export function etcdArgs(dir: string, clientPort: number, peerPort: number): string[] {
  const peer = `http://127.0.0.1:${peerPort}`;
  const client = `http://127.0.0.1:${clientPort}`;
  return [
    ...["--name", "etcd", "--data-dir", `${dir}/etcd`],
    ...["--listen-client-urls", client, "--advertise-client-urls", client],
    ...["--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer],
    ...["--initial-cluster", `etcd=${peer}`, "--initial-cluster-state", "new"],
    ...["--logger", "zap", "--log-level", "warn"],
  ];
}

export function haproxyCfg(socket: string, ports: { primary: number; replica: number }, nodes: NodeSpec[]): string {
  const section = (role: "primary" | "replica") => [
    `listen ${role}`,
    `    bind 127.0.0.1:${ports[role]}`,
    ...haproxyChecks(role).map((l) => `    ${l}`),
    ...nodes.map((n) => `    server ${n.name} 127.0.0.1:${n.pgPort} maxconn 190 check port ${n.apiPort}`),
  ];
  return [
    "global",
    "    maxconn 1000",
    `    stats socket ${socket} mode 600 level admin`,
    "defaults",
    "    mode tcp",
    "    timeout connect 2s",
    // database sessions sit idle between queries; the service's own heartbeats keep them busy
    "    timeout client 30m",
    "    timeout server 30m",
    "    timeout check 1s",
    ...section("primary"),
    ...section("replica"),
    "",
  ].join("\n");
}

export type Layout = {
  scope: string;
  nodes: (NodeSpec & { config: string })[];
  ports: { etcd: number; etcdPeer: number; primary: number; replica: number };
};

/** Free ports for everything, and every config file written into dir (one subdir per node). */
export async function writeLayout(dir: string, count: number): Promise<Layout> {
  const scope = `wallet-${path.basename(dir).slice(-6)}`;
  const ports = { etcd: await freePort(), etcdPeer: await freePort(), primary: await freePort(), replica: 0 };
  ports.replica = await freePort();
  const nodes: Layout["nodes"] = [];
  for (let i = 1; i <= count; i++) {
    const n = {
      name: `node${i}`,
      dir: path.join(dir, `node${i}`),
      pgPort: await freePort(),
      apiPort: await freePort(),
    };
    nodes.push({ ...n, config: path.join(dir, `${n.name}.yml`) });
    fs.mkdirSync(n.dir);
    fs.writeFileSync(path.join(dir, `${n.name}.yml`), patroniYaml(scope, ports.etcd, n));
  }
  fs.writeFileSync(path.join(dir, "patronictl.yml"), patronictlYaml(scope, ports.etcd));
  fs.writeFileSync(path.join(dir, "haproxy.cfg"), haproxyCfg(path.join(dir, "haproxy.sock"), ports, nodes));
  return { scope, nodes, ports };
}
