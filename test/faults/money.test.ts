/**
 * Money under faults, on a private PostgreSQL cluster behind a TCP proxy the test
 * controls: connections reset at random under load, a clean restart and a crash.
 * Every acknowledged operation must be in the ledger exactly once, none twice (each
 * request has an amount of its own, so a second application would show), verify
 * clean, every error a clean 503.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/core/config.js";
import { openDatabase, type Database } from "../../src/core/db/index.js";
import { verifyLedger } from "../../src/core/verify.js";
import { createLogger } from "../../src/server/logger.js";
import { startServer, type RunningServer } from "../../src/server/index.js";
import { runCli } from "../helpers/cli.js";
import { PrivatePostgres } from "../helpers/privatePostgres.js";
import { get } from "../helpers/server.js";
import { TcpProxy } from "../helpers/tcpProxy.js";
import { startLoad, type Sent } from "./load.js";

const USERS = 20;
let pg: PrivatePostgres;
let proxy: TcpProxy;
let server: RunningServer;
let db: Database; // direct, for the checks

beforeAll(async () => {
  pg = await PrivatePostgres.create();
  await pg.psql("create database wallet");
  proxy = new TcpProxy(pg.port);
  await proxy.start();
  const seeded = await runCli(["seed", "--users", String(USERS), "--balance", "1000000000000", "--json"], {
    DATABASE_URL: pg.url("wallet"),
  });
  expect(seeded.code).toBe(0);
  const config = resolveConfig({
    DATABASE_URL: pg.url("wallet", proxy.port),
    PORT: "0",
    RATE_LIMIT_RPS: "0",
    LOG_LEVEL: "silent",
    TRANSFER_WORKERS: "2",
    REQUEST_DEADLINE_MS: "1500", // shorter than the outages below: clients see them
    DB_POOL_MAX: "8",
  });
  server = await startServer(config, createLogger("silent"));
  db = await openDatabase({ databaseUrl: pg.url("wallet"), dataDir: "", poolMax: 2 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  await db?.close();
  await proxy?.close();
  await pg?.destroy();
});

/** How many times each request (by its unique amount) is in the ledger. */
async function applications(): Promise<Map<number, number>> {
  const rows = await db.query<{ amount: number; n: number }>(
    `select amount, count(*)::int as n from (
       select j.amount from journal j
        where j.kind in (1, 2)
           or (j.kind = 3 and j.direction = -1 and not exists (select 1 from transfers t where t.id = j.id))
       union all select amount from transfers where async) a
     where amount >= 1000 and amount < 1000000000000 group by amount`,
  );
  return new Map(rows.map((r) => [r.amount, r.n]));
}

async function settleAsync(): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const [row] = await db.query<{ n: number }>("select count(*)::int as n from transfers where status = 'pending'");
    if (row!.n === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("async transfers still pending");
}

/** The ledger agrees with what every client was told. */
async function checkLedger(sent: Sent[]): Promise<{ acknowledged: number; unknown: number }> {
  await settleAsync();
  const seen = await applications();
  let acknowledged = 0;
  let unknown = 0;
  const twice: Sent[] = [];
  const lost: Sent[] = [];
  for (const s of sent) {
    const n = seen.get(s.amount) ?? 0;
    if (n > 1) twice.push(s);
    if (s.status === 200 || s.status === 202) {
      acknowledged++;
      if (n !== 1) lost.push(s);
    } else {
      unknown++;
      // anything else is a clean 503 that says to come back
      expect(s.status, s.body).toBe(503);
      expect(JSON.parse(s.body)).toEqual({ error: { code: "unavailable", message: expect.any(String) } });
      expect(s.retryAfter).toBe("1");
    }
  }
  expect(twice, "applied twice").toEqual([]);
  expect(lost, "acknowledged but not applied exactly once").toEqual([]);
  // completed async transfers reached their receivers; everything adds up
  expect((await verifyLedger({ db })).violations).toEqual([]);
  return { acknowledged, unknown };
}

describe("faults between the service and PostgreSQL", () => {
  it("applies every operation at most once while connections are reset at random", async () => {
    const commits = server.services.ctx.commits.counts;
    const before = { ...commits };
    proxy.cutEvery(300, 500);
    const load = startLoad(server.url, { clients: 16, users: USERS, firstAmount: 1000 });
    await new Promise((r) => setTimeout(r, 10_000));
    proxy.stopCutting();
    await load.stop();
    const r = await checkLedger(load.sent);
    expect(proxy.cuts).toBeGreaterThan(15);
    expect(r.acknowledged).toBeGreaterThan(500);
    // the fault path ran: batches whose outcome was unknown were asked again by identity
    expect(commits.unknownRetries - before.unknownRetries).toBeGreaterThan(0);
  });

  for (const mode of ["fast", "immediate"] as const) {
    it(`comes back by itself after a ${mode} stop of PostgreSQL, losing nothing acknowledged`, async () => {
      const ready: Array<{ at: number; status: number }> = [];
      let polling = true;
      const poller = (async () => {
        while (polling) {
          const at = Date.now();
          const r = await get(server.url, "/readyz").catch(() => ({ status: 0 }) as { status: number });
          ready.push({ at, status: r.status });
          await new Promise((res) => setTimeout(res, 50));
        }
      })();
      const load = startLoad(server.url, { clients: 8, users: USERS, firstAmount: mode === "fast" ? 5e8 : 6e8 });
      await new Promise((r) => setTimeout(r, 1500));
      await pg.stop(mode);
      const stoppedAt = Date.now();
      await new Promise((r) => setTimeout(r, 2500));
      const startingAt = Date.now();
      await pg.start();
      const backAt = Date.now();
      // the same process serves writes again
      let servedAt = 0;
      while (!servedAt && Date.now() - backAt < 30_000) {
        const r = await fetch(`${server.url}/api/deposit/v1`, {
          method: "POST",
          headers: { authorization: "1", "content-type": "application/json" },
          body: JSON.stringify({ amount: 1 }),
        });
        if (r.status === 200) servedAt = Date.now();
        else await new Promise((res) => setTimeout(res, 100));
      }
      await new Promise((r) => setTimeout(r, 1500));
      await load.stop();
      polling = false;
      await poller;
      expect(servedAt, "served again within 30 s of the database's return").toBeGreaterThan(0);
      expect(servedAt - backAt).toBeLessThan(30_000);
      // polls sent while the database was down (after the stop returned, before the start began)
      const during = ready.filter((p) => p.at > stoppedAt && p.at < startingAt);
      expect(during.length).toBeGreaterThan(0);
      expect(during.filter((p) => p.status !== 503)).toEqual([]);
      expect(ready.at(-1)!.status).toBe(200);
      const r = await checkLedger(load.sent);
      expect(r.acknowledged).toBeGreaterThan(50);
      expect(r.unknown).toBeGreaterThan(0); // the outage was seen by clients
    });
  }
});
