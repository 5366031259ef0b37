/**
 * Watchers of events (long polls and WatchEvents streams): a cap per user on both
 * together, and one database read per change shared by every watcher of the wallet,
 * counted (reads, not time).
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, expect, it, vi } from "vitest";
import { getEvents } from "../src/core/events/pages.js";
import { routedEvents } from "../src/core/reads/reads.js";
import { freePort } from "./helpers/privatePostgres.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
const walletV1 = (grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any).wallet
  .v1;

let s: TestServer;
let c: any;
beforeAll(async () => {
  s = await startTestServer({ GRPC_PORT: String(await freePort()), WATCHERS_PER_USER: "50" });
  c = new walletV1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
});
afterAll(async () => {
  c.close();
  await s.stop();
});

const waiters = () => s.services.eventWaiters;
// conditions, not time: the bound is only how long a loaded machine may take to get there
const eventually = <T>(fn: () => T) => vi.waitFor(fn, { timeout: 30_000, interval: 20 });
const reads = () => waiters().reads.reads;
/** every watcher registered, and no read of theirs still under way */
const settled = (n: number) => expect([waiters().waiting, waiters().reads.asking]).toEqual([n, 0]);

/** A WatchEvents stream with what it received so far and how it ended. */
function watch(user: number, after = 0) {
  const md = new grpc.Metadata();
  md.set("authorization", String(user));
  const call = c.WatchEvents({ after }, md);
  const w = { call, seqs: [] as number[], status: undefined as grpc.StatusObject | undefined };
  call.on("data", (e: any) => w.seqs.push(e.sequence));
  call.on("status", (st: grpc.StatusObject) => (w.status = st));
  call.on("error", () => undefined);
  return w;
}

async function deposits(user: number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) expect((await post(s.url, "/api/deposit/v1", user, { amount: 1 })).status).toBe(200);
}

it("refuses a watcher past the cap per user, long polls and streams together, with rate_limited", async () => {
  const u = 501;
  const streams = Array.from({ length: 30 }, () => watch(u));
  const polls = Array.from({ length: 20 }, () => get(s.url, "/api/events/v1?wait=30", u));
  await eventually(() => expect(waiters().watching).toBe(50));
  const poll = await get(s.url, "/api/events/v1?wait=1", u);
  expect(poll.status).toBe(429);
  expect(poll.body.error.code).toBe("rate_limited");
  const stream = watch(u);
  await eventually(() => expect(stream.status).toBeDefined());
  expect(stream.status!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
  expect(stream.status!.metadata.get("wallet-error-code")).toEqual(["rate_limited"]);
  // a read without wait is no watcher, and another user has places of their own
  expect((await get(s.url, "/api/events/v1", u)).status).toBe(200);
  expect((await get(s.url, "/api/events/v1?wait=1", u + 1)).status).toBe(200);
  // a place is given back when its watcher ends
  streams[0]!.call.cancel();
  await eventually(() => expect(waiters().watching).toBe(49));
  await deposits(u, 1); // answers the long polls
  expect((await Promise.all(polls)).map((r) => r.status)).toEqual(Array(20).fill(200));
  for (const w of streams) w.call.cancel();
  await eventually(() => expect(waiters().watching).toBe(0));
});

it("serves 50 WatchEvents streams of one user with about one read per change, in order, no gap, no repeat", async () => {
  const u = 502;
  const N = 10;
  const streams = Array.from({ length: 50 }, () => watch(u));
  await eventually(() => settled(50));
  const before = reads();
  await deposits(u, N);
  await eventually(() => expect(streams.every((w) => w.seqs.length === N)).toBe(true));
  // one read per change (one per watcher per change would be 500, and 1,000 with the read that finds nothing)
  expect(reads() - before).toBeLessThanOrEqual(N + 2);
  for (const w of streams) expect(w.seqs).toEqual(Array.from({ length: N }, (_v, i) => i + 1));
  for (const w of streams) w.call.cancel();
  await eventually(() => expect(waiters().watching).toBe(0));
});

it("answers 50 long polls of one user woken by one change with one read", async () => {
  const u = 503;
  await deposits(u, 2);
  const polls = Array.from({ length: 50 }, () => get(s.url, "/api/events/v1?after=2&wait=30", u));
  await eventually(() => settled(50));
  const before = reads();
  await deposits(u, 1);
  const answers = await Promise.all(polls);
  expect(reads() - before).toBe(1);
  for (const a of answers) expect(a.body.events.map((e: { sequence: number }) => e.sequence)).toEqual([3]);
});

it("lets 50 long polls asking again after each answer cost about one read per change, missing nothing", async () => {
  const u = 505;
  const N = 5;
  const seen: number[][] = Array.from({ length: 50 }, () => []);
  let stop = false;
  const loops = seen.map(async (mine) => {
    let after = 0;
    while (!stop) {
      const r = await get(s.url, `/api/events/v1?after=${after}&wait=30`, u);
      expect(r.status).toBe(200);
      for (const e of r.body.events) mine.push(e.sequence);
      after = r.body.next_after;
    }
  });
  await eventually(() => settled(50));
  const before = reads();
  for (let i = 1; i <= N; i++) {
    await deposits(u, 1);
    // every poll has its event and has asked again
    await eventually(() => {
      expect(seen.every((m) => m.length === i)).toBe(true);
      settled(50);
    });
  }
  // one read per change for the woken polls; the 250 polls asked again read nothing
  expect(reads() - before).toBe(N);
  for (const m of seen) expect(m).toEqual([1, 2, 3, 4, 5]);
  stop = true;
  await deposits(u, 1);
  await Promise.all(loops);
});

it("gives each of watchers at different places, read together, exactly its own page", async () => {
  const u = 504;
  await deposits(u, 12);
  const ctx = s.services.ctx;
  const asks = [0, 3, 4, 9, 12].flatMap((after) => [1, 2, 5].map((limit) => ({ after, limit })));
  const before = reads();
  const pages = await Promise.all(asks.map((q) => getEvents(ctx, { userId: u, ...q, waitMs: 0 }, waiters())));
  expect(reads() - before).toBe(1);
  for (const [i, q] of asks.entries()) {
    const alone = await routedEvents(ctx, u, q.after, q.limit);
    expect(pages[i]!.events.map((e) => e.sequence)).toEqual(alone.map((r) => r.seq));
  }
});
