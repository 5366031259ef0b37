/**
 * Every endpoint of the synchronous contract over real HTTP, on both engines; every
 * bad input class answered with its documented status and no change to any balance.
 */
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { balanceOf, call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let base: string;

beforeAll(async () => {
  s = await startTestServer();
  base = s.url;
});
afterAll(() => s.stop());

/** Runs fn and checks that no balance of the given users changed. */
async function unchanged(users: number[], fn: () => Promise<void>) {
  const before = await Promise.all(users.map((u) => balanceOf(base, u)));
  await fn();
  expect(await Promise.all(users.map((u) => balanceOf(base, u)))).toEqual(before);
}

describe("deposit, withdraw, balance", () => {
  it("deposits and withdraws cents, answering the new balance", async () => {
    expect(await balanceOf(base, 101)).toBe(0);
    const d = await post(base, "/api/deposit/v1", 101, { amount: 167 });
    expect(d.status).toBe(200);
    expect(d.body.balance).toBe(167);
    expect(d.body.transaction_id).toMatch(/^[0-9]+$/);
    const w = await post(base, "/api/withdraw/v1", 101, { amount: 67 });
    expect(w.status).toBe(200);
    expect(w.body.balance).toBe(100);
    expect(BigInt(w.body.transaction_id)).toBeGreaterThan(BigInt(d.body.transaction_id));
    expect(await balanceOf(base, 101)).toBe(100);
  });

  it("opens the wallet of a user seen for the first time by the write itself", async () => {
    const d = await post(base, "/api/deposit/v1", 150, { amount: 5 });
    expect(d.status).toBe(200);
    expect(d.body.balance).toBe(5);
    const w = await post(base, "/api/withdraw/v1", 151, { amount: 1 });
    expect(w.body.error.code).toBe("insufficient_funds");
    const t = await post(base, "/api/transfer/v1", 152, { destination_user_id: 150, amount: 1 });
    expect(t.body.error.code).toBe("insufficient_funds");
    expect(await balanceOf(base, 152)).toBe(0);
  });

  it("judges an exponent amount by its value", async () => {
    const r = await post(base, "/api/deposit/v1", 102, '{"amount": 1e2}');
    expect(r.status).toBe(200);
    expect(r.body.balance).toBe(100);
    const bad = await post(base, "/api/deposit/v1", 102, '{"amount": 1.5e0}');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe("invalid_request");
  });

  it("refuses a withdrawal past the balance with insufficient_funds and changes nothing", async () => {
    await post(base, "/api/deposit/v1", 103, { amount: 50 });
    await unchanged([103], async () => {
      const r = await post(base, "/api/withdraw/v1", 103, { amount: 51 });
      expect(r.status).toBe(422);
      expect(r.body).toEqual({ error: { code: "insufficient_funds", message: expect.any(String) } });
    });
  });

  it("accepts the largest amount and refuses a balance past 2^53-1", async () => {
    const max = Number.MAX_SAFE_INTEGER;
    const r = await post(base, "/api/deposit/v1", 104, { amount: max });
    expect(r.status).toBe(200);
    expect(r.body.balance).toBe(max);
    await unchanged([104], async () => {
      const over = await post(base, "/api/deposit/v1", 104, { amount: 1 });
      expect(over.status).toBe(422);
      expect(over.body.error.code).toBe("balance_limit_exceeded");
    });
  });
});

describe("bad input", () => {
  const amounts: Array<[string, string]> = [
    ["zero", '{"amount": 0}'],
    ["negative", '{"amount": -5}'],
    ["fraction", '{"amount": 10.5}'],
    ["string", '{"amount": "10"}'],
    ["null", '{"amount": null}'],
    ["missing", "{}"],
    ["over 2^53-1", '{"amount": 9007199254740992}'],
    ["far over", '{"amount": 1e400}'],
    ["boolean", '{"amount": true}'],
    ["array", '{"amount": [5]}'],
    ["unknown field", '{"amount": 5, "currency": "usd"}'],
    ["malformed JSON", '{"amount": 5'],
    ["not an object", "[5]"],
    ["empty body", ""],
  ];
  for (const path of ["/api/deposit/v1", "/api/withdraw/v1"]) {
    for (const [name, body] of amounts) {
      it(`${path}: ${name} is 400 and changes nothing`, async () => {
        await post(base, "/api/deposit/v1", 201, { amount: 1000 });
        await unchanged([201], async () => {
          const r = await post(base, path, 201, body);
          expect(r.status).toBe(400);
          expect(r.body.error.code).toBe("invalid_request");
          expect(r.body.error.message).not.toMatch(/select|insert|at .*\.js/i);
        });
      });
    }
  }

  const transfers: Array<[string, unknown]> = [
    ["zero amount", { destination_user_id: 202, amount: 0 }],
    ["string amount", { destination_user_id: 202, amount: "5" }],
    ["missing destination", { amount: 5 }],
    ["zero destination", { destination_user_id: 0, amount: 5 }],
    ["negative destination", { destination_user_id: -2, amount: 5 }],
    ["fractional destination", { destination_user_id: 2.5, amount: 5 }],
    ["string destination", { destination_user_id: "202", amount: 5 }],
    ["null destination", { destination_user_id: null, amount: 5 }],
  ];
  for (const path of ["/api/transfer/v1", "/api/transfer/v2"]) {
    for (const [name, body] of transfers) {
      it(`${path}: ${name} is 400 and changes nothing`, async () => {
        await post(base, "/api/deposit/v1", 201, { amount: 10 });
        await post(base, "/api/deposit/v1", 202, { amount: 10 });
        await unchanged([201, 202], async () => {
          const r = await post(base, path, 201, body);
          expect(r.status).toBe(400);
          expect(r.body.error.code).toBe("invalid_request");
        });
      });
    }
  }

  it("a body over 64 KiB is 413 and changes nothing", async () => {
    await unchanged([201], async () => {
      const big = JSON.stringify({ amount: 5, pad: "x".repeat(70 * 1024) });
      const r = await post(base, "/api/deposit/v1", 201, big);
      expect(r.status).toBe(413);
      expect(r.body.error.code).toBe("payload_too_large");
    });
  });

  for (const [name, header] of [
    ["missing", undefined],
    ["empty", ""],
    ["non-numeric", "abc"],
    ["zero", "0"],
    ["negative", "-3"],
    ["fractional", "1.5"],
    ["too large", "99999999999999999999"],
  ] as const) {
    it(`Authorization ${name} is 401 and changes nothing`, async () => {
      await unchanged([201], async () => {
        const r = await call(base, "POST", "/api/deposit/v1", {
          body: { amount: 5 },
          headers: header === undefined ? {} : { authorization: header },
        });
        expect(r.status).toBe(401);
        expect(r.body.error.code).toBe("unauthorized");
      });
      expect((await get(base, "/api/wallet/balance/v1", header)).status).toBe(401);
    });
  }

  it("bad history parameters are 400", async () => {
    for (const q of [
      "type=7",
      "type=-1",
      "type=x",
      "page=0",
      "page=-1",
      "page=1.5",
      "page_size=0",
      "page_size=101",
      "page_size=abc",
      "page=1&page=2",
      "page=1&p%61ge=2",
      "bogus=1",
      "toString=1",
      "__proto__=1",
      "page_size=5&&constructor",
      "page_size=+5",
    ]) {
      const r = await get(base, `/api/transactions/v1?${q}`, 201);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe("invalid_request");
    }
    expect((await get(base, "/api/transactions/v1?page=1&page=2", 201)).body.error.message).toMatch(/more than once/);
  });

  it("reads a query plain or percent-encoded alike", async () => {
    await post(base, "/api/deposit/v1", 202, { amount: 5 });
    await post(base, "/api/deposit/v1", 202, { amount: 6 });
    for (const q of ["page_size=1", "page_size=%31", "p%61ge_size=1&", "&page_size=1&type=0", "page_size=1&type=%30"]) {
      const r = await get(base, `/api/transactions/v1?${q}`, 202);
      expect(r.status, q).toBe(200);
      expect(
        r.body.transactions.map((e: { amount: number }) => e.amount),
        q,
      ).toEqual([6]);
    }
  });

  it("an unknown path is 404 not_found and a wrong method 405", async () => {
    const r = await get(base, "/api/nope", 1);
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe("not_found");
    const m = await call(base, "DELETE", "/api/deposit/v1", { user: 1 });
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe("POST");
  });

  it("a bad Idempotency-Key is 400", async () => {
    const r = await post(base, "/api/deposit/v1", 201, { amount: 1 }, { "idempotency-key": "x".repeat(300) });
    expect(r.status).toBe(400);
  });
});

describe("transfer v1", () => {
  it("moves money between wallets and answers the sender's balance", async () => {
    await post(base, "/api/deposit/v1", 301, { amount: 5000 });
    await balanceOf(base, 302); // opens wallet 302
    const r = await post(base, "/api/transfer/v1", 301, { destination_user_id: 302, amount: 1003 });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      success: true,
      transfer_id: expect.stringMatching(/^[0-9]+$/),
      balance: 3997,
      currency: "USD",
    });
    expect(await balanceOf(base, 302)).toBe(1003);
  });

  it("refuses insufficient funds, a missing wallet and oneself, changing nothing", async () => {
    await post(base, "/api/deposit/v1", 303, { amount: 10 });
    await balanceOf(base, 304);
    await unchanged([303, 304], async () => {
      const poor = await post(base, "/api/transfer/v1", 303, { destination_user_id: 304, amount: 11 });
      expect(poor.status).toBe(422);
      expect(poor.body.error.code).toBe("insufficient_funds");
      const missing = await post(base, "/api/transfer/v1", 303, { destination_user_id: 999_999, amount: 1 });
      expect(missing.status).toBe(404);
      expect(missing.body.error.code).toBe("wallet_not_found");
      const self = await post(base, "/api/transfer/v1", 303, { destination_user_id: 303, amount: 1 });
      expect(self.status).toBe(422);
      expect(self.body.error.code).toBe("same_wallet");
    });
  });

  it("refuses a transfer that would take the receiver past 2^53-1", async () => {
    await post(base, "/api/deposit/v1", 305, { amount: Number.MAX_SAFE_INTEGER });
    await post(base, "/api/deposit/v1", 306, { amount: 5 });
    await unchanged([305, 306], async () => {
      const r = await post(base, "/api/transfer/v1", 306, { destination_user_id: 305, amount: 1 });
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe("balance_limit_exceeded");
    });
  });
});

describe("history", () => {
  it("lists entries newest first with type filter and pages that neither repeat nor skip", async () => {
    const u = 401;
    const other = 402;
    await balanceOf(base, other);
    for (let i = 1; i <= 7; i++) await post(base, "/api/deposit/v1", u, { amount: i * 100 });
    await post(base, "/api/withdraw/v1", u, { amount: 50 });
    await post(base, "/api/transfer/v1", u, { destination_user_id: other, amount: 25 });

    const all = await get(base, "/api/transactions/v1?page_size=100", u);
    expect(all.status).toBe(200);
    expect(all.body.transactions).toHaveLength(9);
    expect(all.body).toMatchObject({ page: 1, page_size: 100, has_more: false });
    const ids = all.body.transactions.map((t: { id: string }) => BigInt(t.id));
    expect([...ids].sort((a, b) => (a > b ? -1 : 1))).toEqual(ids);
    const newest = all.body.transactions[0];
    expect(newest).toEqual({
      id: expect.any(String),
      type: "transfer",
      direction: "out",
      amount: 25,
      currency: "USD",
      balance_after: 2800 - 50 - 25,
      counterparty_user_id: other,
      transfer_id: expect.stringMatching(/^[0-9]+$/),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      hold_id: null,
      reverses: null,
      exchange_id: null,
      reference: null,
      metadata: {},
      batch_id: null,
    });
    const signed = all.body.transactions.reduce(
      (sum: number, t: { direction: string; amount: number }) => sum + (t.direction === "in" ? t.amount : -t.amount),
      0,
    );
    expect(signed).toBe(await balanceOf(base, u));

    const seen: string[] = [];
    for (let page = 1; ; page++) {
      const r = await get(base, `/api/transactions/v1?page=${page}&page_size=2`, u);
      seen.push(...r.body.transactions.map((t: { id: string }) => t.id));
      if (!r.body.has_more) break;
    }
    expect(seen).toEqual(all.body.transactions.map((t: { id: string }) => t.id));

    const deposits = await get(base, "/api/transactions/v1?type=1", u);
    expect(deposits.body.transactions.map((t: { type: string }) => t.type)).toEqual(Array(7).fill("deposit"));
    const withdrawals = await get(base, "/api/transactions/v1?type=2", u);
    expect(withdrawals.body.transactions).toHaveLength(1);
    const incoming = await get(base, "/api/transactions/v1?type=3", other);
    expect(incoming.body.transactions[0]).toMatchObject({
      type: "transfer",
      direction: "in",
      amount: 25,
      counterparty_user_id: u,
    });
    const defaults = await get(base, "/api/transactions/v1", u);
    expect(defaults.body).toMatchObject({ page: 1, page_size: 30 });
  });

  it("is gzip-compressed at 1 KiB or more when accepted, and plain below", async () => {
    const u = 403;
    for (let i = 0; i < 12; i++) await post(base, "/api/deposit/v1", u, { amount: 1 });
    const r = await call(base, "GET", "/api/transactions/v1", { user: u, headers: { "accept-encoding": "gzip" } });
    expect(r.headers["content-encoding"]).toBe("gzip");
    expect(JSON.parse(gunzipSync(r.raw).toString()).transactions).toHaveLength(12);
    const small = await call(base, "GET", "/api/wallet/balance/v1", {
      user: u,
      headers: { "accept-encoding": "gzip" },
    });
    expect(small.headers["content-encoding"]).toBeUndefined();
    const plain = await call(base, "GET", "/api/transactions/v1", { user: u });
    expect(plain.headers["content-encoding"]).toBeUndefined();
  });
});

describe("every response", () => {
  it("carries X-Request-Id, echoing a sane one", async () => {
    const a = await get(base, "/healthz");
    expect(a.headers["x-request-id"]).toMatch(/^[0-9a-f-]{36}$/);
    const b = await get(base, "/api/wallet/balance/v1", 1, { "x-request-id": "abc-123" });
    expect(b.headers["x-request-id"]).toBe("abc-123");
    const c = await get(base, "/api/wallet/balance/v1", "x");
    expect(c.headers["x-request-id"]).toBeTruthy();
  });

  it("healthz and readyz answer", async () => {
    expect((await get(base, "/healthz")).body).toEqual({ status: "ok" });
    const r = await get(base, "/readyz");
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ status: "ok", database: "ok" });
  });
});
