/** Batches (all or none, in order, $i, limits, idempotency, concurrency) and conditional writes. */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { engine } from "./helpers/env.js";
import { freePort } from "./helpers/privatePostgres.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const TOKEN = "b".repeat(40);
const admin = { authorization: `Bearer ${TOKEN}`, "x-actor": "treasury" };
let s: TestServer;

const batch = (user: number, operations: unknown[], headers?: Record<string, string>) =>
  post(s.url, "/api/batches/v1", user, { operations }, headers);
const deposit = (user: number, amount: number, extra: object = {}, headers?: Record<string, string>) =>
  post(s.url, "/api/deposit/v1", user, { amount, ...extra }, headers);
const balance = async (user: number, currency = "USD") =>
  (await get(s.url, `/api/wallet/balance/v1?currency=${currency}`, user)).body as {
    balance: number;
    available_balance: number;
    version: number;
  };
const history = async (user: number, query = "") =>
  (await get(s.url, `/api/transactions/v1?page_size=100${query}`, user)).body.transactions as Array<
    Record<string, unknown>
  >;
const events = async (user: number) =>
  (await get(s.url, "/api/events/v1?limit=500", user)).body.events as Array<{
    type: string;
    data: Record<string, unknown>;
  }>;
/** Everything a party can see of its wallets: what must not move when a batch is refused. */
const snapshot = async (user: number) => ({
  b: (await get(s.url, "/api/wallet/balances/v1", user)).body,
  h: await history(user),
  e: await events(user),
  holds: (await get(s.url, "/api/holds/v1", user)).body,
});

beforeAll(async () => {
  s = await startTestServer({ ADMIN_TOKEN: TOKEN, GRPC_PORT: String(await freePort()) });
});
afterAll(() => s?.stop());

describe("a batch", () => {
  it("applies its operations in order, a later one seeing the earlier ones ($i names a hold)", async () => {
    await deposit(2, 1); // the receiver exists
    const r = await batch(1, [
      { type: "deposit", amount: 1000, reference: "order-1", metadata: { cart: "77" } },
      { type: "transfer", destination_user_id: 2, amount: 300 },
      { type: "hold", amount: 200, reference: "hold-ref" },
      { type: "capture", hold_id: "$2", amount: 150 },
      { type: "withdraw", amount: 500 },
    ]);
    expect(r.status).toBe(200);
    expect(r.body.batch_id).toMatch(/^[0-9]+$/);
    const [dep, tr, hold, cap, wd] = r.body.results;
    expect(dep).toMatchObject({ balance: 1000, currency: "USD" });
    expect(tr).toMatchObject({ success: true, balance: 700 });
    expect(hold).toMatchObject({ status: "held", amount: 200, reference: "hold-ref", available_balance: 500 });
    expect(cap).toMatchObject({ hold_id: hold.hold_id, status: "captured", captured_amount: 150, balance: 550 });
    expect(wd).toMatchObject({ balance: 50 });
    expect((await balance(1)).balance).toBe(50);
    expect((await balance(2)).balance).toBe(1 + 300);

    const h1 = await history(1);
    const mine = h1.filter((e) => e.batch_id === r.body.batch_id);
    expect(mine).toHaveLength(4); // deposit, transfer out, capture out, withdraw (a hold is no entry)
    expect(h1.find((e) => e.id === dep.transaction_id)).toMatchObject({
      reference: "order-1",
      metadata: { cart: "77" },
    });
    // the capture carries the hold's reference (it has none of its own)
    expect(h1.find((e) => e.hold_id === hold.hold_id)).toMatchObject({ reference: "hold-ref" });
    const e1 = await events(1);
    expect(e1.every((e) => e.data.batch_id === r.body.batch_id)).toBe(true);
    expect(e1.map((e) => e.type)).toEqual(["deposit", "transfer_out", "hold_created", "hold_captured", "withdraw"]);
    expect(e1[3]!.data).toMatchObject({ reference: "hold-ref", hold_id: hold.hold_id });
    const e2 = await events(2);
    expect(e2.at(-1)!.data).toMatchObject({ batch_id: r.body.batch_id, transfer_id: tr.transfer_id });
    expect(e2[0]!.data).toMatchObject({ batch_id: null, reference: null, metadata: {} });
  });

  it("is all or none: a refusal leaves every party's balances, histories, events and holds as they were", async () => {
    await deposit(10, 500);
    await deposit(11, 100);
    const before = [await snapshot(10), await snapshot(11)];
    const r = await batch(10, [
      { type: "deposit", amount: 1000 },
      { type: "transfer", destination_user_id: 11, amount: 700 },
      { type: "hold", amount: 300 },
      { type: "capture", hold_id: "$2", amount: 100 },
      { type: "withdraw", amount: 701 }, // 1500 - 700 - 100 = 700 left: refused
    ]);
    expect(r.status).toBe(422);
    expect(r.body.error).toMatchObject({ code: "batch_refused", details: { index: 4, code: "insufficient_funds" } });
    expect([await snapshot(10), await snapshot(11)]).toEqual(before);
    // the wallet goes on as before: sequences without a gap
    const after = await deposit(10, 1);
    expect(after.body.balance).toBe(501);
    const seqs = (await events(10)).map((_, i) => i + 1);
    expect(seqs.at(-1)).toBe((await events(10)).length);
  });

  it("turns any status of a refusal into batch_refused with its code", async () => {
    await deposit(12, 100);
    const cases: Array<[unknown[], number, string]> = [
      [
        [
          { type: "deposit", amount: 1 },
          { type: "capture", hold_id: "123456" },
        ],
        1,
        "not_found",
      ],
      [[{ type: "transfer", destination_user_id: 999_999, amount: 1 }], 0, "wallet_not_found"],
      [[{ type: "transfer", destination_user_id: 12, amount: 1 }], 0, "same_wallet"],
      [[{ type: "deposit", amount: 1, expected_version: 999 }], 0, "version_mismatch"],
      [
        [
          { type: "deposit", amount: 1, currency: "EUR" },
          { type: "exchange", quote_id: "1" },
        ],
        1,
        "not_found",
      ],
    ];
    for (const [ops, index, code] of cases) {
      const r = await batch(12, ops);
      expect(r.status, JSON.stringify(ops)).toBe(422);
      expect(r.body.error.details).toEqual({ index, code });
    }
    const hold = await post(s.url, "/api/holds/v1", 12, { amount: 10 });
    const voided = await batch(12, [
      { type: "void", hold_id: hold.body.hold_id },
      { type: "capture", hold_id: hold.body.hold_id },
    ]);
    expect(voided.body.error.details).toEqual({ index: 1, code: "hold_not_active" });
    expect((await get(s.url, `/api/holds/v1/${hold.body.hold_id}`, 12)).body.status).toBe("held");
    expect((await balance(12)).balance).toBe(100);
  });

  it("refuses 0 and 101 operations, a malformed operation (naming its index) and a bad $i with 400", async () => {
    expect((await batch(13, [])).status).toBe(400);
    const many = Array.from({ length: 101 }, () => ({ type: "deposit", amount: 1 }));
    expect((await batch(13, many)).status).toBe(400);
    expect((await batch(13, many.slice(0, 100))).status).toBe(200);
    const malformed: unknown[][] = [
      [
        { type: "deposit", amount: 1 },
        { type: "deposit", amount: 0 },
      ],
      [
        { type: "deposit", amount: 1 },
        { type: "teleport", amount: 1 },
      ],
      [
        { type: "deposit", amount: 1 },
        { type: "deposit", amount: 1, extra: true },
      ],
      [
        { type: "deposit", amount: 1 },
        { type: "capture", hold_id: "$1" },
      ], // itself
      [
        { type: "deposit", amount: 1 },
        { type: "capture", hold_id: "$0" },
      ], // not a hold
      [
        { type: "deposit", amount: 1 },
        { type: "capture", hold_id: "$7" },
      ], // later
      [
        { type: "deposit", amount: 1 },
        { type: "void", hold_id: "abc" },
      ],
    ];
    for (const ops of malformed) {
      const r = await batch(13, ops);
      expect(r.status, JSON.stringify(ops)).toBe(400);
      expect(r.body.error).toMatchObject({ code: "invalid_request", details: { index: 1 } });
    }
    expect((await balance(13)).balance).toBe(100);
  });

  it("is covered as a whole by its Idempotency-Key, refusals included", async () => {
    await deposit(15, 1);
    const ops = [
      { type: "deposit", amount: 40 },
      { type: "transfer", destination_user_id: 15, amount: 30 },
    ];
    const key = { "idempotency-key": "batch-key-1" };
    const first = await batch(14, ops, key);
    const again = await batch(14, ops, key);
    expect(first.status).toBe(200);
    expect(again.status).toBe(200);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    expect((await balance(14)).balance).toBe(10);
    expect((await balance(15)).balance).toBe(31);
    expect((await batch(14, ops.slice(0, 1), key)).body.error.code).toBe("idempotency_key_reused");
    // the hash covers every operation's fields, nested metadata included
    const changed = [ops[0], { ...ops[1], amount: 31 }];
    expect((await batch(14, changed, key)).body.error.code).toBe("idempotency_key_reused");
    const labelled = [{ ...ops[0], metadata: { a: "1" } }, ops[1]];
    const k3 = { "idempotency-key": "batch-key-3" };
    expect((await batch(14, labelled, k3)).status).toBe(200);
    const relabelled = [{ ...ops[0], metadata: { a: "2" } }, ops[1]];
    expect((await batch(14, relabelled, k3)).body.error.code).toBe("idempotency_key_reused");
    expect((await deposit(14, 1, { metadata: { a: "1" } }, k3)).body.error.code).toBe("idempotency_key_reused");
    const k4 = { "idempotency-key": "deposit-key-4" };
    expect((await deposit(14, 1, { metadata: { a: "1" } }, k4)).status).toBe(200);
    expect((await deposit(14, 1, { metadata: { a: "2" } }, k4)).body.error.code).toBe("idempotency_key_reused");
    expect((await balance(14)).balance).toBe(10 + 40 - 30 + 1);

    const refusedKey = { "idempotency-key": "batch-key-2" };
    const tooMuch = [{ type: "withdraw", amount: 22 }];
    const r1 = await batch(14, tooMuch, refusedKey);
    await deposit(14, 100); // now it would pass, but the key answers what it answered
    const r2 = await batch(14, tooMuch, refusedKey);
    expect(r1.status).toBe(422);
    expect(r2.status).toBe(422);
    expect(r2.body).toEqual(r1.body);
    expect(r2.headers["idempotent-replayed"]).toBe("true");
  });

  it("never overdraws under concurrent batches", async () => {
    await deposit(16, 1000);
    const rs = await Promise.all(
      Array.from({ length: 12 }, () =>
        batch(16, [
          { type: "withdraw", amount: 100 },
          { type: "withdraw", amount: 150 },
        ]),
      ),
    );
    expect(rs.filter((r) => r.status === 200)).toHaveLength(4);
    expect(rs.filter((r) => r.status === 422)).toHaveLength(8);
    expect((await balance(16)).balance).toBe(0);
  });

  it("can spend what an exchange before it brought", async () => {
    expect(
      (await call(s.url, "PUT", "/admin/v1/fx/rates/USD/EUR", { headers: admin, body: { rate: "0.5" } })).status,
    ).toBe(200);
    await deposit(17, 1000);
    await deposit(18, 1);
    const q = await post(s.url, "/api/fx/quotes/v1", 17, { from_currency: "USD", to_currency: "EUR", amount: 1000 });
    const r = await batch(17, [
      { type: "exchange", quote_id: q.body.quote_id, reference: "fx-1" },
      { type: "transfer", destination_user_id: 18, amount: 500, currency: "EUR" },
    ]);
    expect(r.status).toBe(200);
    expect((await balance(18, "EUR")).balance).toBe(500);
    expect((await history(17, "&reference=fx-1")).map((e) => e.type)).toEqual(["exchange", "exchange"]);
    expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
  });
});

describe("reference and metadata", () => {
  it("are stored on both sides of a transfer, on holds and v2 transfers, and looked up per user", async () => {
    await deposit(20, 1000, { reference: "shared-ref" });
    await deposit(21, 1);
    await deposit(22, 5, { reference: "shared-ref" }); // another user's entry with the same reference
    const t = await post(s.url, "/api/transfer/v1", 20, {
      destination_user_id: 21,
      amount: 100,
      reference: "shared-ref",
      metadata: { invoice: "INV-9" },
    });
    expect(t.status).toBe(200);
    const mine = await history(20, "&reference=shared-ref");
    expect(mine.map((e) => e.type)).toEqual(["transfer", "deposit"]);
    const theirs = await history(21, "&reference=shared-ref");
    expect(theirs).toHaveLength(1);
    expect(theirs[0]).toMatchObject({ direction: "in", metadata: { invoice: "INV-9" }, batch_id: null });
    expect(await history(22, "&reference=shared-ref")).toHaveLength(1);
    expect(await history(20, "&reference=nothing")).toEqual([]);
    const from = new Date(Date.now() - 60_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const st = await get(s.url, `/api/statements/v1?from=${from}&to=${to}`, 21);
    expect(st.body.entries.at(-1)).toMatchObject({ reference: "shared-ref", metadata: { invoice: "INV-9" } });

    const v2 = await post(s.url, "/api/transfer/v2", 20, { destination_user_id: 21, amount: 1, reference: "v2 ✓" });
    expect(v2.status).toBe(202);
    const status = await get(s.url, `/api/transfer/v2/${v2.body.transfer_id}`, 20);
    expect(status.body).toMatchObject({ reference: "v2 ✓", metadata: {} });
    const hold = await post(s.url, "/api/holds/v1", 20, { amount: 5, metadata: { k: "v" } });
    expect((await get(s.url, `/api/holds/v1/${hold.body.hold_id}`, 20)).body).toMatchObject({
      reference: null,
      metadata: { k: "v" },
    });
    const cap = await post(s.url, `/api/holds/v1/${hold.body.hold_id}/capture`, 20, { reference: "own" });
    expect(cap.status).toBe(200);
    expect((await history(20, "&reference=own"))[0]).toMatchObject({
      hold_id: hold.body.hold_id,
      metadata: { k: "v" },
    });
  });

  it("are taken by the operator's adjustments and reversals", async () => {
    const d = await deposit(26, 300);
    const adj = await call(s.url, "POST", "/admin/v1/adjustments", {
      headers: admin,
      body: { user_id: 26, amount: 500, reason: "goodwill", reference: "case-12", metadata: { ticket: "12" } },
    });
    expect(adj.status).toBe(200);
    const rev = await call(s.url, "POST", "/admin/v1/reversals", {
      headers: admin,
      body: { transaction_id: d.body.transaction_id, amount: 100, reason: "partly", reference: "case-12" },
    });
    expect(rev.status).toBe(200);
    expect((await history(26, "&reference=case-12")).map((e) => [e.type, e.metadata])).toEqual([
      ["reversal", {}],
      ["adjustment", { ticket: "12" }],
    ]);
  });

  it("are refused past their bounds (400) and taken up to them", async () => {
    const key = (i: number) => `k${i}`;
    const obj = (n: number, value = "v") => Object.fromEntries(Array.from({ length: n }, (_, i) => [key(i), value]));
    const bad: object[] = [
      { reference: "" },
      { reference: "x".repeat(129) },
      { reference: "line\nbreak" },
      { reference: 5 },
      { metadata: obj(21) },
      { metadata: { "bad key": "v" } },
      { metadata: { ["k".repeat(41)]: "v" } },
      { metadata: { k: "v".repeat(501) } },
      { metadata: { k: 1 } },
      { metadata: ["v"] },
      { metadata: obj(9, "é".repeat(250)) }, // 9 x 500 bytes: past 4 KiB
      { expected_version: -1 },
    ];
    for (const extra of bad) expect((await deposit(23, 1, extra)).status, JSON.stringify(extra)).toBe(400);
    const good: object[] = [
      { reference: "x".repeat(128) },
      { reference: "Ünïcode and spaces ✓" },
      { metadata: obj(20) },
      { metadata: { ["k".repeat(40)]: "v".repeat(500) } },
      { metadata: obj(7, "v".repeat(500)) },
    ];
    for (const extra of good) expect((await deposit(23, 1, extra)).status, JSON.stringify(extra)).toBe(200);
    expect((await balance(23)).balance).toBe(good.length);
  });

  // 100,000 entries on PostgreSQL; the embedded engine writes them slowly (25 s), so 20,000 there
  const N = engine === "pg" ? 100_000 : 20_000;
  it(`?reference= reads an index: as fast on ${N} entries as on a few`, async () => {
    const db = s.services.ctx.db;
    await deposit(24, 1, { reference: "needle" });
    await deposit(25, 1, { reference: "needle" });
    await db.query(
      `insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after,
                            currency, reference)
       select 24, 1000 + g, (1::bigint << 50) + g, 1, 1, 1, 1, 1, 1, 'USD', 'other-' || g from generate_series(1, $1::int) g`,
      [N],
    );
    await db.query("analyze journal");
    // the embedded database held the event loop: let the server's idle keep-alive sockets close first
    await new Promise((r) => setTimeout(r, 300));
    const time = async (user: number) => {
      const t0 = performance.now();
      for (let i = 0; i < 5; i++) expect(await history(user, `&reference=needle&page=${1 + (i % 2)}`)).toBeDefined();
      return (performance.now() - t0) / 5;
    };
    const big = await time(24);
    const small = await time(25);
    const plan = await db.query<Record<string, string>>(
      "explain select * from journal j where j.user_id = 24 and j.kind is not null and j.reference = 'needle' order by seq desc limit 31",
    );
    expect(plan.map((r) => Object.values(r)[0]).join("\n")).toContain("journal_reference_idx");
    console.info(`?reference= on ${N} entries: ${big.toFixed(1)} ms a page; on 1 entry: ${small.toFixed(1)} ms`);
    expect(big).toBeLessThan(small * 3 + 20);
  });
});

describe("expected_version", () => {
  it("applies a write only at that version; a mismatch is 409 and changes nothing", async () => {
    await deposit(30, 100);
    const v = (await balance(30)).version;
    const stale = await post(s.url, "/api/withdraw/v1", 30, { amount: 10, expected_version: v - 1 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("version_mismatch");
    expect(await balance(30)).toMatchObject({ balance: 100, version: v });
    const ok = await post(s.url, "/api/withdraw/v1", 30, { amount: 10, expected_version: v });
    expect(ok.status).toBe(200);
    expect((await balance(30)).version).toBeGreaterThan(v);
    // a currency never used is at version 0
    expect((await deposit(30, 5, { currency: "EUR", expected_version: 0 })).status).toBe(200);
    // the payer's wallet for a transfer and a capture
    await deposit(31, 1);
    const v30 = (await balance(30)).version;
    const t = { destination_user_id: 31, amount: 1, expected_version: (await balance(31)).version };
    expect((await post(s.url, "/api/transfer/v1", 30, t)).status).toBe(v30 === t.expected_version ? 200 : 409);
    const h = await post(s.url, "/api/holds/v1", 30, { amount: 5, destination_user_id: 31 });
    const payer = (await balance(30)).version;
    const cap = await post(s.url, `/api/holds/v1/${h.body.hold_id}/capture`, 31, { expected_version: payer + 1 });
    expect(cap.body.error.code).toBe("version_mismatch");
    expect((await post(s.url, `/api/holds/v1/${h.body.hold_id}/capture`, 31, { expected_version: payer })).status).toBe(
      200,
    );
  });

  it("lets one of two racing writes with the same expected version through", async () => {
    await deposit(32, 100);
    const v = (await balance(32)).version;
    const rs = await Promise.all(
      [1, 2].map(() => post(s.url, "/api/withdraw/v1", 32, { amount: 10, expected_version: v })),
    );
    expect(rs.map((r) => r.status).sort()).toEqual([200, 409]);
    expect((await balance(32)).balance).toBe(90);
  });

  it("is judged on an operator's adjustment against the wallet adjusted", async () => {
    await deposit(34, 100);
    const v = (await balance(34)).version;
    const adjust = (expected_version: number) =>
      call(s.url, "POST", "/admin/v1/adjustments", {
        headers: admin,
        body: { user_id: 34, amount: -10, reason: "fee", expected_version },
      });
    const stale = await adjust(v + 1);
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe("version_mismatch");
    expect(await balance(34)).toMatchObject({ balance: 100, version: v });
    expect((await adjust(v)).status).toBe(200);
    expect((await balance(34)).balance).toBe(90);
  });

  it("is judged on a reversal against the wallet it debits (a withdrawal's: the one it credits)", async () => {
    await deposit(35, 100);
    await deposit(36, 1);
    const t = await post(s.url, "/api/transfer/v1", 35, { destination_user_id: 36, amount: 40 });
    const w = await post(s.url, "/api/withdraw/v1", 35, { amount: 10 });
    const reverse = (id: string, expected_version: number) =>
      call(s.url, "POST", "/admin/v1/reversals", {
        headers: admin,
        body: { transaction_id: id, amount: 5, reason: "dispute", expected_version },
      });
    expect(t.status).toBe(200);
    // the transfer's reversal debits its destination, 36: the sender's version does not pass
    const [v35, v36] = [(await balance(35)).version, (await balance(36)).version];
    const wrong = await reverse(t.body.transfer_id, v35 === v36 ? v36 + 1 : v35);
    expect(wrong.body.error.code).toBe("version_mismatch");
    expect((await balance(36)).balance).toBe(41);
    expect((await reverse(t.body.transfer_id, v36)).status).toBe(200);
    expect((await balance(36)).balance).toBe(36);
    // a withdrawal's reversal only credits 35: judged against 35
    const v = (await balance(35)).version;
    expect((await reverse(w.body.transaction_id, v + 1)).body.error.code).toBe("version_mismatch");
    expect((await reverse(w.body.transaction_id, v)).status).toBe(200);
    expect((await balance(35)).balance).toBe(60); // 100 - 40 - 10, then 5 and 5 back
  });

  it("is judged inside a batch against the wallet as the earlier operations left it", async () => {
    await deposit(33, 100);
    const v = (await balance(33)).version;
    const r = await batch(33, [
      { type: "deposit", amount: 1, expected_version: v },
      { type: "withdraw", amount: 1, expected_version: v + 1 },
    ]);
    expect(r.status).toBe(200);
    const stale = await batch(33, [
      { type: "deposit", amount: 1 },
      { type: "withdraw", amount: 1, expected_version: v + 2 },
    ]);
    expect(stale.body.error.details).toEqual({ index: 1, code: "version_mismatch" });
    expect(await balance(33)).toMatchObject({ balance: 100, version: v + 2 });
  });
});

describe("over gRPC", () => {
  const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
  const rpc = (method: string, user: number, req: object, key?: string) => {
    const pkg = grpc.loadPackageDefinition(protoLoader.loadSync("proto/wallet/v1/wallet.proto", opts)) as any;
    const c = new pkg.wallet.v1.WalletService(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
    const md = new grpc.Metadata();
    md.set("authorization", String(user));
    if (key) md.set("idempotency-key", key);
    return new Promise<{
      code: number;
      value: any;
      trailers: Record<string, unknown>;
      headers: Record<string, unknown>;
    }>((resolve) => {
      let value: any;
      let headers: Record<string, unknown> = {};
      const call = c[method](req, md, (_e: unknown, v: any) => (value = v));
      call.on("metadata", (m: grpc.Metadata) => (headers = m.getMap()));
      call.on("status", (st: grpc.StatusObject) => {
        resolve({ code: st.code, value, trailers: st.metadata.getMap(), headers });
        c.close();
      });
    });
  };

  it("SubmitBatch applies a batch, refuses one as a whole, and shares its Idempotency-Key with HTTP", async () => {
    await deposit(41, 1);
    const r = await rpc("SubmitBatch", 40, {
      operations: [
        { type: "deposit", amount: 100, reference: "g-1", metadata: { via: "grpc" } },
        { type: "hold", amount: 30 },
        { type: "capture", hold_id: "$1" },
        { type: "transfer", destination_user_id: 41, amount: 20, currency: "USD" },
      ],
    });
    expect(r.code).toBe(grpc.status.OK);
    expect(r.value.batch_id).toMatch(/^[0-9]+$/);
    expect(r.value.results.map((x: string) => JSON.parse(x))).toMatchObject([
      { balance: 100 },
      { status: "held" },
      { status: "captured" },
      { balance: 50 },
    ]);
    const h = await rpc("ListTransactions", 40, { reference: "g-1" });
    expect(h.value.transactions).toMatchObject([
      { reference: "g-1", metadata: { via: "grpc" }, batch_id: r.value.batch_id },
    ]);
    const b = await rpc("GetBalance", 40, {});
    expect(b.value).toMatchObject({ balance: 50, version: (await balance(40)).version });

    const refused = await rpc("SubmitBatch", 40, {
      operations: [
        { type: "deposit", amount: 5 },
        { type: "withdraw", amount: 1000 },
      ],
    });
    expect(refused.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(refused.trailers["wallet-error-code"]).toBe("batch_refused");
    expect(JSON.parse(String(refused.trailers["wallet-error-details"]))).toEqual({
      index: 1,
      code: "insufficient_funds",
    });
    expect((await balance(40)).balance).toBe(50);

    const ops = [{ type: "deposit", amount: 7, metadata: { a: "b" } }];
    const viaHttp = await batch(40, ops, { "idempotency-key": "cross-1" });
    const viaGrpc = await rpc("SubmitBatch", 40, { operations: ops }, "cross-1");
    expect(viaGrpc.code).toBe(grpc.status.OK);
    expect(viaGrpc.headers["idempotent-replayed"]).toBe("true");
    expect(viaGrpc.value.batch_id).toBe(viaHttp.body.batch_id);
    expect((await balance(40)).balance).toBe(57);

    const stale = await rpc("Withdraw", 40, { amount: 1, expected_version: 1 });
    expect([stale.code, stale.trailers["wallet-error-code"]]).toEqual([grpc.status.ABORTED, "version_mismatch"]);
  });
});
