/**
 * The events relay against a private nats-server: every event of every wallet is in
 * the stream exactly once and in order, including those written before a relay ran,
 * across a NATS outage under load, a SIGKILL of the serving process, two serving
 * processes at once, and a relay that died between the ack and the mark longer ago
 * than the stream's duplicate window. Each test has a database and a nats-server of
 * its own, so that none depends on what another left behind.
 */
import { randomBytes } from "node:crypto";
import { connect } from "@nats-io/transport-node";
import { jetstream } from "@nats-io/jetstream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { openDatabase, type Database } from "../../src/core/db/index.js";
import { subjectOf } from "../../src/core/events/relay.js";
import { outboxStats } from "../../src/core/store/events.js";
import { runCli } from "../helpers/cli.js";
import { adminQuery } from "../helpers/db.js";
import { dbUrl } from "../helpers/env.js";
import { PrivateNats } from "../helpers/nats.js";
import { startProcess, type ServeProcess } from "../helpers/process.js";
import { get, post } from "../helpers/server.js";
import { startLoad, type Load } from "./load.js";

const USERS = 12;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the load has had this many more requests answered (a count, not a time). */
async function untilSent(load: Load, more: number): Promise<void> {
  const target = load.sent.length + more;
  await vi.waitFor(() => expect(load.sent.length).toBeGreaterThanOrEqual(target), {
    timeout: 120_000,
    interval: 50,
  });
}

type World = { env: Record<string, string>; db: Database; nats: PrivateNats; drop(): Promise<void> };

/** A database of its own (migrated, seeded) and a nats-server of its own. */
async function world(): Promise<World> {
  const name = `wallet_relay_${randomBytes(4).toString("hex")}`;
  await adminQuery(`create database ${name}`);
  const url = dbUrl(name);
  const nats = await PrivateNats.create();
  const env = { DATABASE_URL: url, NATS_URL: nats.url };
  expect((await runCli(["seed", "--users", String(USERS), "--balance", "1000000000000"], env)).code).toBe(0);
  const db = await openDatabase({ databaseUrl: url, dataDir: "", poolMax: 2 });
  return {
    env,
    db,
    nats,
    async drop() {
      await db.close();
      await nats.destroy();
      await adminQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

/** Wallets whose events the relay has not all published (by its own cursors). */
async function unpublished(w: World): Promise<number> {
  const [row] = await w.db.query<{ n: number }>(
    `select count(*)::int as n from users x left join relay_cursor c on c.user_id = x.user_id
      where x.seq > coalesce(c.published_seq, 0)`,
  );
  return row!.n;
}

/** Waits until the relay has published everything, then compares the stream with the journal. */
async function streamEqualsJournal(w: World): Promise<number> {
  for (let i = 0; ; i++) {
    const n = await unpublished(w);
    if (n === 0) break;
    if (i > 600) throw new Error(`${n} wallets still have unpublished events`);
    await sleep(100);
  }
  const rows = await w.db.query<{ user_id: number; seqs: number[] }>(
    "select user_id, array_agg(seq order by seq)::int[] as seqs from journal group by user_id",
  );
  const expected = new Map(rows.map((r) => [r.user_id, r.seqs]));
  const actual = await w.nats.readStream();
  expect(actual).toEqual(expected); // exactly once each, in sequence order, per wallet
  return [...expected.values()].reduce((n, s) => n + s.length, 0);
}

let w: World;
beforeEach(async () => {
  w = await world();
});
afterEach(() => w?.drop());

describe("events relay", () => {
  it("publishes every event once, in order, including what was written before any relay ran", async () => {
    for (let i = 0; i < 5; i++) await runCli(["deposit", String(10 + i), "--user", "1"], w.env);
    const s = await startProcess("serve", { ...w.env, TRANSFER_WORKERS: "2" });
    try {
      const load = startLoad(s.url, { clients: 8, users: USERS, firstAmount: 1000 });
      // a count of requests, not a time: a busy machine sends fewer in a given time
      await untilSent(load, 600);
      await load.stop();
      expect(await streamEqualsJournal(w)).toBeGreaterThan(500);
    } finally {
      await s.stop();
    }
  });

  it("loses, repeats and reorders nothing when NATS stops for a few seconds under load", async () => {
    const s = await startProcess("serve", { ...w.env, TRANSFER_WORKERS: "2" });
    try {
      const load = startLoad(s.url, { clients: 8, users: USERS, firstAmount: 2e8 });
      await untilSent(load, 100);
      await w.nats.stop();
      // writes go on; events wait in the database
      await untilSent(load, 150);
      await vi.waitFor(async () => expect((await outboxStats(w.db)).backlog).toBeGreaterThan(0), {
        timeout: 60_000,
        interval: 100,
      });
      await w.nats.start();
      await untilSent(load, 100);
      await load.stop();
      expect(load.sent.filter((x) => x.status >= 500)).toEqual([]); // NATS away does not stop writes
      await streamEqualsJournal(w);
    } finally {
      await s.stop();
    }
  });

  it("loses and repeats nothing when the serving process is killed under load", async () => {
    let s: ServeProcess = await startProcess("serve", { ...w.env, TRANSFER_WORKERS: "2" });
    const load = startLoad(s.url, { clients: 8, users: USERS, firstAmount: 3e8 });
    await untilSent(load, 150);
    s.child.kill("SIGKILL");
    await s.exited;
    await load.stop();
    s = await startProcess("serve", { ...w.env, TRANSFER_WORKERS: "2" });
    try {
      await streamEqualsJournal(w);
    } finally {
      await s.stop();
    }
  });

  it("keeps each event once with two serving processes on one database and one NATS", async () => {
    const [a, b] = await Promise.all([
      startProcess("serve", { ...w.env, TRANSFER_WORKERS: "1" }),
      startProcess("serve", { ...w.env, TRANSFER_WORKERS: "1" }),
    ]);
    try {
      const la = startLoad(a.url, { clients: 6, users: USERS, firstAmount: 4e8 });
      const lb = startLoad(b.url, { clients: 6, users: USERS, firstAmount: 5e8 });
      await Promise.all([untilSent(la, 100), untilSent(lb, 100)]);
      // the active relay goes: the other takes over
      a.child.kill("SIGKILL");
      await a.exited;
      await la.stop();
      await untilSent(lb, 100);
      await lb.stop();
      await streamEqualsJournal(w);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it("prunes published events that are not ledger entries, keeping the ledger whole", async () => {
    const s = await startProcess("serve", { ...w.env, TRANSFER_WORKERS: "0" });
    try {
      const hold = await post(s.url, "/api/holds/v1", 2, { amount: 5 });
      await post(s.url, `/api/holds/v1/${hold.body.hold_id}/void`, 2, {});
      await streamEqualsJournal(w);
      const pruned = await runCli(["events", "prune", "--older-than", "0", "--json"], w.env);
      expect(pruned.json.pruned).toBeGreaterThanOrEqual(2);
      const verify = await runCli(["verify", "--json"], w.env);
      expect(verify.json.violations).toEqual([]);
      const types = (await get(s.url, "/api/events/v1?limit=500", 2)).body.events.map((e: { type: string }) => e.type);
      expect(types).not.toContain("hold_created");
      expect(types).toContain("deposit");
    } finally {
      await s.stop();
    }
  });
});

describe("a relay that died between the ack and the mark, longer ago than the duplicate window", () => {
  it("publishes nothing twice: the stream says where to go on", async () => {
    await w.nats.createStream(1000); // a 1 s duplicate window
    for (let i = 0; i < 6; i++) await runCli(["deposit", String(20 + i), "--user", "3"], w.env);
    // what a relay published before it died, without marking it
    const rows = await w.db.query<{ seq: number; body: string }>(
      "select seq, '{\"user_id\":3,\"sequence\":' || seq || '}' as body from journal where user_id = 3 and seq <= 4 order by seq",
    );
    const nc = await connect({ servers: w.nats.url });
    const js = jetstream(nc);
    for (const r of rows) await js.publish(subjectOf(3), r.body, { msgID: `3:${r.seq}` });
    await nc.close();
    await sleep(1500); // past the window: Nats-Msg-Id alone would no longer catch a repeat
    const relay = await startProcess("relay", w.env, "wallet relay running");
    try {
      await streamEqualsJournal(w);
    } finally {
      await relay.stop();
    }
  });
});
