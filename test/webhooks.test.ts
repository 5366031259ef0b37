/**
 * Webhooks and balance monitors through the real server, to real receivers on
 * loopback: headers and signatures, filters, retries then failed and a manual retry,
 * rotation, order per user under failures, a hanging receiver, deletion, monitors.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { startReceiver, signedWith, waitFor, type Receiver } from "./helpers/receiver.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "w".repeat(40);
const admin = { authorization: `Bearer ${TOKEN}`, "x-actor": "ops" };
let s: TestServer;
const receivers: Receiver[] = [];

const adminCall = (method: string, path: string, body?: unknown) => call(s.url, method, path, { headers: admin, body });
const addHook = async (url: string, event_types?: string[]) => {
  const r = await adminCall("POST", "/admin/v1/webhooks", { url, ...(event_types ? { event_types } : {}) });
  expect(r.status, r.raw.toString()).toBe(201);
  return r.body as { id: string; secret: string; url: string; event_types: string[] };
};
const receiver = async (answer?: Parameters<typeof startReceiver>[0]) => {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
};
const deposit = (user: number, amount: number) => post(s.url, "/api/deposit/v1", user, { amount });
const withdraw = (user: number, amount: number) => post(s.url, "/api/withdraw/v1", user, { amount });
const deliveries = async (id: string, q = "") =>
  (await adminCall("GET", `/admin/v1/webhooks/${id}/deliveries${q}`)).body.deliveries as any[];

beforeAll(async () => {
  s = await startTestServer({
    ADMIN_TOKEN: TOKEN,
    WEBHOOK_ALLOW_PRIVATE: "true",
    WEBHOOK_RETRY_BASE_MS: "50",
    WEBHOOK_MAX_ATTEMPTS: "3",
    LOG_LEVEL: process.env.TEST_LOG ?? "silent",
  });
});
afterAll(async () => {
  for (const r of receivers) await r.close();
  await s?.stop();
});

describe("webhook endpoints", () => {
  it("sends matching events, signed, in order, with the events API's JSON", async () => {
    const all = await receiver();
    const deposits = await receiver();
    await deposit(1, 500); // before the endpoints: not theirs
    const a = await addHook(all.url);
    expect(a.secret).toMatch(/^whsec_[0-9a-f]{64}$/);
    expect(a.event_types).toEqual(["*"]);
    const d = await addHook(deposits.url, ["deposit"]);
    await deposit(1, 1000);
    await withdraw(1, 300);
    await waitFor("both events", () => all.delivered().length === 2 && deposits.delivered().length === 1);
    const [first, second] = all.delivered();
    expect(first!.headers["content-type"]).toBe("application/json");
    expect(first!.headers["wallet-webhook-id"]).toBe(a.id);
    expect(first!.headers["wallet-event-id"]).toBe("1:2");
    expect(signedWith(String(first!.headers["wallet-signature"]), first!.body, a.secret)).toBe(true);
    expect(signedWith(String(first!.headers["wallet-signature"]), first!.body, d.secret)).toBe(false);
    expect(String(first!.headers["wallet-signature"])).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    const events = (await get(s.url, "/api/events/v1?after=1", 1)).body.events;
    expect([JSON.parse(first!.body), JSON.parse(second!.body)]).toEqual(events);
    expect(deposits.delivered()[0]!.event.type).toBe("deposit");
    // the receivers have both before the sender records the answers: wait for the records
    const list = await waitFor("both deliveries recorded", async () => {
      const l = await deliveries(a.id);
      return l.length === 2 && l.every((x) => x.status === "delivered") ? l : undefined;
    });
    expect(list.map((x) => [x.event_id, x.status, x.attempts])).toEqual([
      ["1:2", "delivered", 1],
      ["1:3", "delivered", 1],
    ]);
    expect((await adminCall("GET", `/admin/v1/webhooks/${a.id}`)).body).not.toHaveProperty("secret");
    expect((await adminCall("GET", "/admin/v1/webhooks")).body.webhooks.length).toBeGreaterThanOrEqual(2);
    await adminCall("DELETE", `/admin/v1/webhooks/${d.id}`);
  });

  it("refuses bad URLs, unknown event types and (unless allowed) private addresses", async () => {
    const bad = (body: unknown) => adminCall("POST", "/admin/v1/webhooks", body);
    expect((await bad({ url: "ftp://example.com/x" })).status).toBe(400);
    expect((await bad({ url: "not a url" })).status).toBe(400);
    expect((await bad({ url: "http://example.com/x", event_types: ["deposit", "nope"] })).status).toBe(400);
    s.config.webhookAllowPrivate = false; // the same server, as deployed without WEBHOOK_ALLOW_PRIVATE
    try {
      for (const url of ["http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]:9/", "http://localhost:9/"]) {
        const r = await bad({ url });
        expect(r.status, url).toBe(400);
        expect(r.body.error.message).toMatch(/private/);
      }
    } finally {
      s.config.webhookAllowPrivate = true;
    }
    expect((await adminCall("GET", "/admin/v1/webhooks/123")).status).toBe(404);
    expect((await adminCall("DELETE", "/admin/v1/webhooks/123")).status).toBe(404);
  });

  it("retries with backoff and a fresh signature, then failed, then a manual retry", async () => {
    let failing = true;
    const r = await receiver((_r, n) => (n <= 2 ? 500 : failing ? 503 : 200));
    const h = await addHook(r.url);
    await deposit(2, 100);
    await waitFor("the third attempt", () => r.received.length === 3);
    const ids = new Set(r.received.map((x) => x.headers["wallet-event-id"]));
    expect([...ids]).toEqual(["2:1"]);
    for (const x of r.received) expect(signedWith(String(x.headers["wallet-signature"]), x.body, h.secret)).toBe(true);
    expect(r.received[1]!.at - r.received[0]!.at).toBeGreaterThanOrEqual(40);
    expect(r.received[2]!.at - r.received[1]!.at).toBeGreaterThanOrEqual(90);
    const failed = await waitFor("failed", async () => {
      const l = await deliveries(h.id, "?status=failed");
      return l.length === 1 ? l[0] : undefined;
    });
    expect(failed).toMatchObject({ event_id: "2:1", attempts: 3, last_status_code: 503, status: "failed" });
    // the next event of the user went out after the failed one
    await deposit(2, 100);
    failing = false;
    await waitFor("the next event", () => r.delivered().some((x) => x.event.sequence === 2));
    const retry = await adminCall("POST", `/admin/v1/webhooks/${h.id}/deliveries/${failed.id}/retry`);
    expect(retry.status).toBe(202);
    await waitFor("the retry", () => r.delivered().some((x) => x.event.sequence === 1));
    const again = await waitFor("the retry recorded", async () => {
      const l = await deliveries(h.id);
      return l[0]?.status === "delivered" ? l : undefined;
    });
    expect(again[0]).toMatchObject({ id: failed.id, status: "delivered", attempts: 4 });
    const twice = await adminCall("POST", `/admin/v1/webhooks/${h.id}/deliveries/${failed.id}/retry`);
    expect([twice.status, twice.body.error.code]).toEqual([409, "delivery_not_failed"]);
    await adminCall("DELETE", `/admin/v1/webhooks/${h.id}`);
  });

  it("keeps each user's order under intermittent failures; other users go on", async () => {
    // every other event refused at its first attempt (never at all three: that would fail it)
    const seen = new Set<string>();
    const r = await receiver((x) => {
      const id = String(x.headers["wallet-event-id"]);
      if (seen.has(id) || x.event.sequence % 2 === 0) return 200;
      seen.add(id);
      return 500;
    });
    const h = await addHook(r.url);
    for (let i = 0; i < 12; i++) {
      await deposit(10 + (i % 3), 10 + i);
    }
    await waitFor("every event", () => new Set(r.delivered().map((x) => x.event.id)).size === 12, 30_000);
    for (const u of [10, 11, 12]) {
      const seqs = r
        .delivered()
        .filter((x) => x.event.user_id === u)
        .map((x) => x.event.sequence);
      expect(seqs).toEqual([1, 2, 3, 4]);
    }
    expect(r.overlaps).toEqual([]);
    await adminCall("DELETE", `/admin/v1/webhooks/${h.id}`);
  });

  it("signs with the old secret beside the new one after a rotation", async () => {
    const r = await receiver();
    const h = await addHook(r.url, ["withdraw"]);
    const rot = await adminCall("POST", `/admin/v1/webhooks/${h.id}/rotate`);
    expect(rot.body.secret).toMatch(/^whsec_/);
    await deposit(3, 100);
    await withdraw(3, 1);
    await waitFor("the withdrawal", () => r.delivered().length === 1);
    const x = r.delivered()[0]!;
    const sig = String(x.headers["wallet-signature"]);
    expect(sig.split(",v1=").length).toBe(3);
    expect(signedWith(sig, x.body, h.secret)).toBe(true);
    expect(signedWith(sig, x.body, rot.body.secret)).toBe(true);
    await adminCall("DELETE", `/admin/v1/webhooks/${h.id}`);
  });

  it("a hanging receiver slows neither writes nor other endpoints; deletion stops deliveries", async () => {
    const hang = await receiver(() => "hang");
    const ok = await receiver();
    const slow = await addHook(hang.url);
    const fast = await addHook(ok.url);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) await deposit(20 + i, 100);
    const writeMs = performance.now() - t0;
    await waitFor("the fast endpoint", () => ok.delivered().length === 10);
    expect(hang.received.length).toBeGreaterThan(0);
    expect(writeMs).toBeLessThan(5000);
    await adminCall("DELETE", `/admin/v1/webhooks/${slow.id}`);
    await adminCall("DELETE", `/admin/v1/webhooks/${fast.id}`);
    const before = ok.received.length;
    await deposit(20, 1);
    await new Promise((res) => setTimeout(res, 600));
    expect(ok.received.length).toBe(before);
    await hang.close();
  });
});

describe("Idempotency-Key on the admin POSTs", () => {
  it("adds one endpoint for a repeated request, answers it again, and refuses the key for another", async () => {
    const keyed = (body: unknown, key: string) =>
      call(s.url, "POST", "/admin/v1/webhooks", { headers: { ...admin, "idempotency-key": key }, body });
    const body = { url: "http://127.0.0.1:9/hook-idem", event_types: ["deposit"] };
    const first = await keyed(body, "wh-idem-1");
    expect(first.status).toBe(201);
    const again = await keyed(body, "wh-idem-1");
    expect([again.status, again.headers["idempotent-replayed"]]).toEqual([201, "true"]);
    expect(again.body).toEqual(first.body); // the same endpoint, its secret included
    const listed = (await adminCall("GET", "/admin/v1/webhooks")).body.webhooks;
    expect(listed.filter((w: { url: string }) => w.url === body.url)).toHaveLength(1);
    const other = await keyed({ ...body, event_types: ["withdraw"] }, "wh-idem-1");
    expect([other.status, other.body.error.code]).toEqual([422, "idempotency_key_reused"]);
    // a request refused by validation never takes its key: the same key may carry a good one after it
    expect((await keyed({ url: "ftp://x" }, "wh-idem-2")).status).toBe(400);
    expect((await keyed({ ...body, url: "http://127.0.0.1:9/hook-idem-2" }, "wh-idem-2")).status).toBe(201);
    expect((await adminCall("DELETE", `/admin/v1/webhooks/${first.body.id}`)).status).toBe(204);
    // a request its action refuses (a monitor of a user never seen: 404) releases its key
    const monitor = (body: unknown) =>
      call(s.url, "POST", "/admin/v1/monitors", { headers: { ...admin, "idempotency-key": "mon-idem-1" }, body });
    const cond = { field: "balance", operator: "lt", value: 10 };
    expect((await monitor({ user_id: 987_654, ...cond })).status).toBe(404);
    await post(s.url, "/api/deposit/v1", 987_655, { amount: 50 });
    const made = await monitor({ user_id: 987_655, ...cond });
    expect(made.status).toBe(201);
    expect((await adminCall("DELETE", `/admin/v1/monitors/${made.body.id}`)).status).toBe(204);
  });
});

describe("the OpenAPI document", () => {
  it("describes the webhook and monitor routes", async () => {
    const doc = (await get(s.url, "/openapi.json")).body;
    expect(Object.keys(doc.paths["/admin/v1/webhooks/{id}"]).sort()).toEqual(["delete", "get"]);
    expect(doc.paths["/admin/v1/webhooks"].post.responses["201"]).toBeTruthy();
    expect(
      doc.paths["/admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry"].post.responses["409"].description,
    ).toMatch(/delivery_not_failed/);
    expect(Object.keys(doc.paths["/admin/v1/monitors/{id}"])).toEqual(["delete"]);
  });
});

describe("balance monitors", () => {
  it("emit one event per crossing, right after the change, in every feed", async () => {
    const r = await receiver();
    const h = await addHook(r.url, ["monitor_triggered", "monitor_resolved"]);
    await deposit(40, 1000);
    const m = await adminCall("POST", "/admin/v1/monitors", {
      user_id: 40,
      field: "balance",
      operator: "lt",
      value: 500,
    });
    expect(m.status).toBe(201);
    expect(m.body).toMatchObject({ user_id: 40, currency: "USD", field: "balance", operator: "lt", state: "ok" });
    await withdraw(40, 600); // 400: crosses
    await withdraw(40, 100); // 300: still below, nothing
    await deposit(40, 50); // 350: still below
    await deposit(40, 1000); // 1350: resolves
    await deposit(40, 10); // nothing
    const events = (await get(s.url, "/api/events/v1", 40)).body.events as any[];
    expect(events.map((e) => e.type)).toEqual([
      "deposit",
      "withdraw",
      "monitor_triggered",
      "withdraw",
      "deposit",
      "deposit",
      "monitor_resolved",
      "deposit",
    ]);
    expect(events[2].data).toMatchObject({
      monitor_id: m.body.id,
      field: "balance",
      operator: "lt",
      value: 500,
      balance_after: 400,
      available_balance_after: 400,
      currency: "USD",
    });
    await waitFor("both monitor events", () => r.delivered().length === 2);
    expect(r.delivered().map((x) => x.event.sequence)).toEqual([3, 7]);
    const list = await adminCall("GET", "/admin/v1/monitors?user_id=40");
    expect(list.body.monitors).toEqual([{ ...m.body, state: "ok" }]);
    expect((await adminCall("DELETE", `/admin/v1/monitors/${m.body.id}`)).status).toBe(204);
    await withdraw(40, 1300);
    expect((await get(s.url, "/api/events/v1?after=8", 40)).body.events.map((e: any) => e.type)).toEqual(["withdraw"]);
    await adminCall("DELETE", `/admin/v1/webhooks/${h.id}`);
  });

  it("start triggered silently, watch available balance through holds, refuse unknown users", async () => {
    await deposit(41, 100);
    const m = await adminCall("POST", "/admin/v1/monitors", {
      user_id: 41,
      field: "available_balance",
      operator: "lte",
      value: 100,
    });
    expect(m.body.state).toBe("triggered");
    await deposit(41, 200); // 300: resolves
    const hold = await post(s.url, "/api/holds/v1", 41, { amount: 250 });
    expect(hold.status, hold.raw.toString()).toBe(201);
    const types = (await get(s.url, "/api/events/v1", 41)).body.events.map((e: any) => e.type);
    expect(types).toEqual(["deposit", "deposit", "monitor_resolved", "hold_created", "monitor_triggered"]);
    const none = await adminCall("POST", "/admin/v1/monitors", {
      user_id: 999_999,
      field: "balance",
      operator: "gt",
      value: 1,
    });
    expect([none.status, none.body.error.code]).toEqual([404, "wallet_not_found"]);
    const audit = (await adminCall("GET", "/admin/v1/audit?limit=1000")).body.entries as any[];
    expect(new Set(audit.map((e) => e.action))).toEqual(new Set(["webhook", "monitor"]));
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});
