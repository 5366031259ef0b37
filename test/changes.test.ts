/**
 * The database says what changed: a change made outside every server (the
 * direct-mode CLI, `wallet worker`, a SQL function called from psql) reaches every
 * running server's cache within a second, with the in-process cache and with Redis;
 * and after their connections to the database are cut, no server serves a stale read.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers/cli.js";
import { adminQuery, freshDatabase } from "./helpers/db.js";
import { engine, REDIS_URL } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import { balanceOf, get } from "./helpers/server.js";
import { TcpProxy } from "./helpers/tcpProxy.js";

const run = promisify(execFile);

describe.skipIf(engine !== "pg").each([["memory"], ["redis"]])("with the %s cache", (kind) => {
  let env: Record<string, string>;
  let url: string;
  let name: string;
  let drop: () => Promise<void>;
  let servers: ServeProcess[];
  let proxy: TcpProxy; // between the servers and PostgreSQL, so that a test can cut them off

  beforeAll(async () => {
    const db = await freshDatabase();
    url = db.url!;
    name = new URL(url).pathname.slice(1);
    drop = db.drop;
    env = db.env;
    expect((await runCli(["seed", "--users", "10", "--balance", "1000"], env)).code).toBe(0);
    const cache: Record<string, string> =
      kind === "redis" ? { REDIS_URL, REDIS_PREFIX: `test:${randomBytes(4).toString("hex")}:` } : {};
    const pgUrl = new URL(url);
    proxy = new TcpProxy(Number(pgUrl.port || 5432), pgUrl.hostname);
    await proxy.start();
    pgUrl.port = String(proxy.port);
    const proxied = { DATABASE_URL: pgUrl.toString() };
    // no workers in the servers: only `wallet worker` applies async transfers here
    servers = await Promise.all(
      [0, 1].map(() => startProcess("serve", { ...env, ...proxied, ...cache, TRANSFER_WORKERS: "0" })),
    );
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await proxy.close();
    await drop();
  });

  /** Warms every server's cache for the user, returning the balance they agree on. */
  async function warm(user: number): Promise<number> {
    const seen = new Set<number>();
    for (const s of servers) for (let i = 0; i < 2; i++) seen.add(await balanceOf(s.url, user));
    expect(seen.size).toBe(1);
    return [...seen][0]!;
  }

  /** Milliseconds from now until every server answers the expected balance (fails past 1 s). */
  async function visibleEverywhere(user: number, expected: number): Promise<number> {
    const started = Date.now();
    for (const s of servers) {
      while ((await balanceOf(s.url, user)) !== expected) {
        if (Date.now() - started > 1000) throw new Error(`server ${s.url} still stale after 1 s`);
        await new Promise((r) => setTimeout(r, 10));
      }
    }
    return Date.now() - started;
  }

  it("shows a direct-mode CLI deposit on every server within 1 s", async () => {
    const before = await warm(1);
    const r = await runCli(["deposit", "7", "--user", "1", "--json"], env);
    expect(r.json.balance).toBe(before + 7);
    expect(await visibleEverywhere(1, before + 7)).toBeLessThan(1000);
  });

  it("shows a SQL function called from psql on every server within 1 s", async () => {
    const before = await warm(2);
    await run("psql", [
      url,
      "-XAtqc",
      `select outcome from wallet_apply('[{"k":1,"id":"77","u":2,"a":11,"cur":"USD"}]')`,
    ]);
    expect(await visibleEverywhere(2, before + 11)).toBeLessThan(1000);
  });

  it("shows a transfer applied by `wallet worker` on every server within 1 s", async () => {
    const before = await warm(4);
    const accepted = await runCli(
      ["transfer", "13", "--from", "3", "--to", "4", "--async", "--no-wait", "--json"],
      env,
    );
    expect(accepted.json.status).toBe("pending");
    expect(await warm(4)).toBe(before); // not applied yet: no worker runs
    const worker = await startProcess("worker", { ...env, TRANSFER_WORKERS: "1" });
    try {
      // from the moment the database has it completed
      for (;;) {
        const out = await run("psql", [
          url,
          "-XAtqc",
          `select status from transfers where id = ${accepted.json.transfer_id}`,
        ]);
        if (out.stdout.trim() === "completed") break;
        await new Promise((r) => setTimeout(r, 5));
      }
      expect(await visibleEverywhere(4, before + 13)).toBeLessThan(1000);
    } finally {
      await worker.stop();
    }
  });

  it("serves no stale read after its connections to the database are cut", async () => {
    // every connection of the servers killed, and back at once
    for (let round = 0; round < 3; round++) {
      const before = await warm(5);
      await adminQuery(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = '${name}' and application_name like 'wallet%'`,
      );
      await run("psql", [
        url,
        "-XAtqc",
        `select outcome from wallet_apply('[{"k":1,"id":"${900 + round}","u":5,"a":3,"cur":"USD"}]')`,
      ]);
      // the change is not missed: every server shows it within the second outside changes are allowed
      expect(await visibleEverywhere(5, before + 3)).toBeLessThan(1000);
    }
    // every connection cut, and none possible while a change is made: the servers cannot
    // read the change log then, and must not serve what they cached before it
    const before = await warm(6);
    proxy.setRefusing(true);
    proxy.cutAll();
    await run("psql", [
      url,
      "-XAtqc",
      `select outcome from wallet_apply('[{"k":1,"id":"990","u":6,"a":5,"cur":"USD"}]')`,
    ]);
    await new Promise((r) => setTimeout(r, 300));
    proxy.setRefusing(false);
    let fresh = 0;
    const stale: number[] = [];
    for (const until = Date.now() + 1500; Date.now() < until;) {
      for (const s of servers) {
        const r = await get(s.url, "/api/wallet/balance/v1", 6);
        if (r.status === 200 && r.body.balance === before + 5) fresh++;
        else if (r.status !== 503) stale.push(r.body.balance);
      }
      await new Promise((res) => setTimeout(res, 20));
    }
    expect(stale).toEqual([]);
    expect(fresh).toBeGreaterThan(10);
    // and the feed comes back: caches in use again
    for (const s of servers) {
      for (let i = 0; ; i++) {
        const r = await get(s.url, "/readyz");
        if (r.body.changes === "ok") break;
        if (i > 100) throw new Error("change feed did not come back");
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  });
});
