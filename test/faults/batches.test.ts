/**
 * Batches under faults: connections between the service and PostgreSQL reset at
 * random while clients send batches of three operations (a deposit, a withdrawal and
 * a transfer, each with an amount of its own), half with an Idempotency-Key (sent
 * again after a 503, as a client should), half without (left unknown). Every
 * acknowledged batch is in the ledger exactly once; no batch is there partly or twice.
 */
import { randomUUID } from "node:crypto";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/core/config.js";
import { openDatabase, type Database } from "../../src/core/db/index.js";
import { verifyLedger } from "../../src/core/verify.js";
import { createLogger } from "../../src/server/logger.js";
import { startServer, type RunningServer } from "../../src/server/index.js";
import { runCli } from "../helpers/cli.js";
import { PrivatePostgres } from "../helpers/privatePostgres.js";
import { TcpProxy } from "../helpers/tcpProxy.js";

const USERS = 10;
let pg: PrivatePostgres;
let proxy: TcpProxy;
let server: RunningServer;
let db: Database;

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
    TRANSFER_WORKERS: "0",
    REQUEST_DEADLINE_MS: "1500",
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

type Sent = { user: number; base: number; key?: string; status: number; body: string };

/** Clients sending batches until stopped; each batch's amounts are base, base + 1, base + 2. */
function startBatches(url: string, clients: number): { sent: Sent[]; stop(): Promise<void> } {
  const agent = new Agent({ connections: clients, headersTimeout: 60_000 });
  const sent: Sent[] = [];
  let next = 1000;
  let running = true;
  const send = async (user: number, base: number, key?: string) => {
    const operations = [
      { type: "deposit", amount: base },
      { type: "withdraw", amount: base + 1 },
      { type: "transfer", destination_user_id: 1 + (user % USERS), amount: base + 2 },
    ];
    const headers: Record<string, string> = { authorization: String(user), "content-type": "application/json" };
    if (key) headers["idempotency-key"] = key;
    try {
      const body = JSON.stringify({ operations });
      const res = await request(`${url}/api/batches/v1`, { method: "POST", headers, body, dispatcher: agent });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (err) {
      return { status: 0, body: String(err) };
    }
  };
  const loops = Array.from({ length: clients }, async (_v, c) => {
    for (let i = 0; running; i++) {
      const user = 1 + Math.floor(Math.random() * USERS);
      const base = (next += 10);
      const key = (c + i) % 2 === 0 ? `batch-fault-${randomUUID()}` : undefined;
      let r = await send(user, base, key);
      for (let tries = 0; key && r.status === 503 && tries < 40; tries++) {
        await new Promise((res) => setTimeout(res, 250));
        r = await send(user, base, key);
      }
      sent.push({ user, base, key, ...r });
    }
  });
  return {
    sent,
    async stop() {
      running = false;
      await Promise.all(loops);
      await agent.close();
    },
  };
}

describe("batches under faults", () => {
  it("applies every acknowledged batch exactly once, and none partly or twice", async () => {
    const commits = server.services.ctx.commits.counts;
    const before = { ...commits };
    proxy.cutEvery(300, 500);
    const load = startBatches(server.url, 12);
    await new Promise((r) => setTimeout(r, 10_000));
    proxy.stopCutting();
    await load.stop();

    // each amount: how many times it is in the ledger, and under how many batches
    const rows = await db.query<{ amount: number; n: number; batches: number }>(
      `select amount, count(*)::int as n, count(distinct batch_id)::int as batches from journal
        where (kind in (1, 2) or (kind = 3 and direction = -1)) and amount < 1000000000000 group by amount`,
    );
    const seen = new Map(rows.map((r) => [r.amount, r]));
    const count = (amount: number) => seen.get(amount)?.n ?? 0;
    const partly: Sent[] = [];
    const twice: Sent[] = [];
    const lost: Sent[] = [];
    let acknowledged = 0;
    let unknown = 0;
    for (const s of load.sent) {
      const n = [count(s.base), count(s.base + 1), count(s.base + 2)];
      if (new Set(n).size > 1) partly.push(s);
      if (n.some((x) => x > 1)) twice.push(s);
      if (s.status === 200) {
        acknowledged++;
        if (n.some((x) => x !== 1)) lost.push(s);
        expect(seen.get(s.base)!.batches).toBe(1);
      } else {
        unknown++;
        expect(s.status, s.body).toBe(503);
      }
    }
    expect(partly, "applied partly").toEqual([]);
    expect(twice, "applied twice").toEqual([]);
    expect(lost, "acknowledged but not applied exactly once").toEqual([]);
    // every batch's three entries share its batch id
    const [split] = await db.query<{ n: number }>(
      `select count(*)::int as n from (select batch_id from journal where batch_id is not null and kind is not null
                                          group by batch_id having count(*) <> 4) x`,
    );
    expect(split!.n).toBe(0); // deposit, withdrawal, transfer out and in
    expect((await verifyLedger({ db })).violations).toEqual([]);
    expect(proxy.cuts).toBeGreaterThan(15);
    expect(acknowledged).toBeGreaterThan(200);
    expect(commits.unknownRetries - before.unknownRetries).toBeGreaterThan(0);
    console.info(`batches under faults: ${acknowledged} acknowledged, ${unknown} unknown, ${proxy.cuts} cuts`);
  });
});
