/**
 * Webhook delivery across processes (PostgreSQL): `wallet serve` killed with SIGKILL
 * while deliveries are pending loses none of them; then `wallet serve` and `wallet
 * deliver` share the work and never have one event, or two events of one user, in
 * flight at once.
 */
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase, type Database } from "../src/core/db/index.js";
import { freshDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import { startReceiver, waitFor, type Receiver } from "./helpers/receiver.js";

const TOKEN = "k".repeat(40);
const USERS = 8;

describe.skipIf(engine !== "pg")("webhook delivery across crashes and processes", () => {
  let env: Record<string, string>;
  let drop: () => Promise<void>;
  let db: Database;
  let receiver: Receiver;
  const procs: ServeProcess[] = [];
  const agent = new Agent({ connections: 16 });

  beforeAll(async () => {
    const fresh = await freshDatabase();
    drop = fresh.drop;
    db = await openDatabase({ databaseUrl: fresh.url, dataDir: "" });
    // a receiver a little slow, and refusing one attempt in ten
    receiver = await startReceiver(() => (Math.random() < 0.1 ? 500 : 200));
    receiver.setDelay(15);
    env = {
      ...fresh.env,
      ADMIN_TOKEN: TOKEN,
      WEBHOOK_ALLOW_PRIVATE: "true",
      WEBHOOK_RETRY_BASE_MS: "50",
      // two attempts in flight a process, for eight users: neither process can hold every
      // user due at once, so both get work whichever claims first after a commit (with four,
      // the process woken first could take all the users free while the killed one's leases
      // held the rest, and again when those leases ran out)
      WEBHOOK_CONCURRENCY: "2",
      TRANSFER_WORKERS: "0",
    };
  });
  afterAll(async () => {
    for (const p of procs) await p.stop("SIGKILL");
    await receiver?.close();
    await agent.close();
    await db?.close();
    await drop?.();
  });

  async function deposits(url: string, rounds: number): Promise<void> {
    await Promise.all(
      Array.from({ length: USERS }, async (_v, u) => {
        for (let i = 0; i < rounds; i++) {
          const res = await request(`${url}/api/deposit/v1`, {
            method: "POST",
            dispatcher: agent,
            headers: { authorization: String(u + 1), "content-type": "application/json" },
            body: JSON.stringify({ amount: 100 + i }),
          });
          expect(res.statusCode).toBe(200);
          await res.body.dump();
        }
      }),
    );
  }

  it("loses nothing across kill -9, and two processes never overlap", async () => {
    const a = await startProcess("serve", env);
    procs.push(a);
    const hook = await request(`${a.url}/admin/v1/webhooks`, {
      method: "POST",
      dispatcher: agent,
      headers: { authorization: `Bearer ${TOKEN}`, "x-actor": "test", "content-type": "application/json" },
      body: JSON.stringify({ url: receiver.url }),
    });
    expect(hook.statusCode).toBe(201);
    await hook.body.dump();
    await deposits(a.url, 20);
    await waitFor("some deliveries", () => receiver.delivered().length >= 20);
    a.child.kill("SIGKILL");
    await a.exited;
    const [{ pending } = { pending: 0 }] = await db.query<{ pending: number }>(
      "select count(*)::int as pending from webhook_deliveries where status = 'pending'",
    );
    // the kill left deliveries behind (or the test proved nothing)
    expect(pending).toBeGreaterThan(0);

    const b = await startProcess("serve", env);
    const c = await startProcess("deliver", env);
    procs.push(b, c);
    await deposits(b.url, 10);
    const total = USERS * 30;
    await waitFor(
      "every event delivered",
      () => new Set(receiver.delivered().map((r) => r.event.id)).size === total,
      90_000,
    );
    // the receiver counts a delivery when the request arrives; the sender marks it
    // delivered after the answer, so the last rows may still be in flight here. A row the
    // killed process sent but never marked is sent again once its lease runs out (15 s):
    // at least once, so the receiver may have had that event already
    const left = async () => {
      const [{ n } = { n: -1 }] = await db.query<{ n: number }>(
        "select count(*)::int as n from webhook_deliveries where status <> 'delivered'",
      );
      return n;
    };
    await waitFor("every delivery marked delivered", async () => (await left()) === 0, 30_000).catch(() => undefined);
    expect(await left()).toBe(0);
    // per user, first deliveries in sequence order
    const firsts = new Map<string, { user: number; seq: number }>();
    for (const r of receiver.delivered())
      if (!firsts.has(r.event.id)) firsts.set(r.event.id, { user: r.event.user_id, seq: r.event.sequence });
    for (let u = 1; u <= USERS; u++) {
      const seqs = [...firsts.values()].filter((x) => x.user === u).map((x) => x.seq);
      expect(seqs).toEqual(Array.from({ length: 30 }, (_v, i) => i + 1));
    }
    expect(receiver.overlaps).toEqual([]);
    const counts = await Promise.all(
      [b, c].map(async (p) => {
        // each process ends cleanly and says what it did
        expect(await p.stop()).toBe(0);
        const line = p.logs
          .map((l) => {
            try {
              return JSON.parse(l);
            } catch {
              return {};
            }
          })
          .find((j) => j.deliver);
        return line?.deliver?.delivered ?? 0;
      }),
    );
    // both shared the work
    expect(counts[0]).toBeGreaterThan(0);
    expect(counts[1]).toBeGreaterThan(0);
  }, 180_000); // the killed process's leases run out after 15 s
});
