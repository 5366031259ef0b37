/**
 * Holds over real HTTP on both engines: the debits judged against the available
 * balance, who may act on a hold, idempotent retries of the three POSTs, and the
 * payer's list, with the ledger verified after each test.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { holdsApi } from "./helpers/holds.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
let api: ReturnType<typeof holdsApi>;

beforeAll(async () => {
  s = await startTestServer({ TRANSFER_WORKERS: "1" });
  api = holdsApi(s.url);
});
afterAll(() => s.stop());
afterEach(async () => {
  expect((await verifyLedger(s.services.ctx)).violations).toEqual([]);
});

/** A payer with 1000, a destination, and a hold of 100 from one to the other. */
async function heldToDestination() {
  const payer = await api.wallet(1000);
  const dest = await api.wallet(0);
  const id = (await api.hold(payer, { amount: 100, destination_user_id: dest })).body.hold_id as string;
  return { payer, dest, id };
}
const expectNotFound = (r: { status: number; body: any }) =>
  expect([r.status, r.body.error.code]).toEqual([404, "not_found"]);

describe("debits are judged against the available balance", () => {
  /** A payer with 1000, of which 800 held, and another wallet. */
  async function heldPayer() {
    const payer = await api.wallet(1000);
    const other = await api.wallet(0);
    await api.hold(payer, { amount: 800 });
    return { payer, other };
  }

  it("refuses a withdrawal above the available balance", async () => {
    const { payer } = await heldPayer();
    expect((await post(s.url, "/api/withdraw/v1", payer, { amount: 201 })).body.error.code).toBe("insufficient_funds");
    expect((await post(s.url, "/api/withdraw/v1", payer, { amount: 200 })).status).toBe(200);
    expect(await api.balances(payer)).toEqual({ currency: "USD", balance: 800, available_balance: 0, credit_limit: 0 });
  });

  it("refuses a transfer v1 above the available balance", async () => {
    const { payer, other } = await heldPayer();
    const t = await post(s.url, "/api/transfer/v1", payer, { destination_user_id: other, amount: 201 });
    expect(t.body.error.code).toBe("insufficient_funds");
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 200,
      credit_limit: 0,
    });
  });

  it("fails a v2 transfer above the available balance when it is applied", async () => {
    const { payer, other } = await heldPayer();
    const v2 = await post(s.url, "/api/transfer/v2", payer, { destination_user_id: other, amount: 300 });
    expect(v2.status).toBe(202);
    const status = await vi.waitFor(
      async () => {
        const st = (await get(s.url, `/api/transfer/v2/${v2.body.transfer_id}`, payer)).body;
        expect(st.status).not.toBe("pending");
        return st;
      },
      { timeout: 10_000, interval: 20 },
    );
    expect(status).toMatchObject({ status: "failed", failure_reason: "insufficient_funds" });
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 200,
      credit_limit: 0,
    });
  });
});

describe("who may act on a hold", () => {
  it("lets the destination capture a hold that names it", async () => {
    const { dest, id } = await heldToDestination();
    expect((await api.capture(dest, id)).status).toBe(200);
  });

  it("refuses the payer's capture or void of a hold with a destination (403)", async () => {
    const { payer, id } = await heldToDestination();
    for (const r of [await api.capture(payer, id), await api.voidIt(payer, id)]) {
      expect([r.status, r.body.error.code]).toEqual([403, "forbidden"]);
    }
    expect((await api.read(payer, id)).status).toBe("held");
  });

  it("lets the payer and the destination read the hold", async () => {
    const { payer, dest, id } = await heldToDestination();
    expect((await get(s.url, `/api/holds/v1/${id}`, payer)).status).toBe(200);
    expect((await get(s.url, `/api/holds/v1/${id}`, dest)).status).toBe(200);
  });

  it("answers anyone else 404, as for a hold that does not exist", async () => {
    const { payer, dest, id } = await heldToDestination();
    const stranger = await api.wallet(0);
    expectNotFound(await api.capture(stranger, id));
    expectNotFound(await api.voidIt(stranger, id));
    expectNotFound(await get(s.url, `/api/holds/v1/${id}`, stranger));
    expectNotFound(await get(s.url, "/api/holds/v1/123", payer));
    expectNotFound(await get(s.url, "/api/holds/v1/not-an-id", payer));
    expectNotFound(await api.capture(dest, "99999999999999999999"));
  });

  it("lets the payer act on a hold without a destination, and no one else", async () => {
    const payer = await api.wallet(1000);
    const other = await api.wallet(0);
    const own = (await api.hold(payer, { amount: 50 })).body.hold_id;
    expectNotFound(await api.capture(other, own));
    expect((await api.voidIt(payer, own)).status).toBe(200);
  });
});

describe("idempotency", () => {
  const key = (k: string, u: number) => ({ "idempotency-key": `${k}-${u}` });

  it("replays a hold placed again with its key", async () => {
    const { payer, dest } = await heldToDestination();
    const first = await api.hold(payer, { amount: 300, destination_user_id: dest }, key("place", payer));
    const again = await api.hold(payer, { amount: 300, destination_user_id: dest }, key("place", payer));
    expect(again.status).toBe(201);
    expect(again.headers["idempotent-replayed"]).toBe("true");
    expect(again.body).toEqual(first.body);
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 600,
      credit_limit: 0,
    });
  });

  it("refuses a placing key reused with another amount", async () => {
    const { payer, dest } = await heldToDestination();
    await api.hold(payer, { amount: 300, destination_user_id: dest }, key("place", payer));
    const other = await api.hold(payer, { amount: 301, destination_user_id: dest }, key("place", payer));
    expect(other.body.error.code).toBe("idempotency_key_reused");
  });

  it("replays a capture sent again with its key", async () => {
    const { payer, dest, id } = await heldToDestination();
    const c1 = await api.capture(dest, id, { amount: 60 }, key("capture", payer));
    const c2 = await api.capture(dest, id, { amount: 60 }, key("capture", payer));
    expect(c2.headers["idempotent-replayed"]).toBe("true");
    expect(c2.body).toEqual(c1.body);
    expect(await api.balances(dest)).toEqual({ currency: "USD", balance: 60, available_balance: 60, credit_limit: 0 });
  });

  it("refuses a capture key reused on another hold's capture", async () => {
    const { payer, dest, id } = await heldToDestination();
    await api.capture(dest, id, { amount: 60 }, key("capture", payer));
    const other = (await api.hold(payer, { amount: 5, destination_user_id: dest })).body.hold_id;
    const r = await api.capture(dest, other, { amount: 60 }, key("capture", payer));
    expect(r.body.error.code).toBe("idempotency_key_reused");
  });

  it("replays a void sent again with its key", async () => {
    const { payer, dest, id } = await heldToDestination();
    const v1 = await api.voidIt(dest, id, key("void", payer));
    const v2 = await api.voidIt(dest, id, key("void", payer));
    expect(v2.status).toBe(200);
    expect(v2.headers["idempotent-replayed"]).toBe("true");
    expect(v2.body).toEqual(v1.body);
    expect(await api.balances(payer)).toEqual({
      currency: "USD",
      balance: 1000,
      available_balance: 1000,
      credit_limit: 0,
    });
  });
});

describe("listing", () => {
  /** A payer with five holds to one destination, the second voided. */
  async function fiveHolds() {
    const payer = await api.wallet(1000);
    const dest = await api.wallet(0);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++)
      ids.push((await api.hold(payer, { amount: 10 + i, destination_user_id: dest })).body.hold_id);
    await api.voidIt(dest, ids[1]!);
    return { payer, dest, ids };
  }
  const holdIds = (page: { holds: Array<{ hold_id: string }> }) => page.holds.map((h) => h.hold_id);

  it("lists the payer's holds newest first, in pages", async () => {
    const { payer, ids } = await fiveHolds();
    const all = (await get(s.url, "/api/holds/v1?page_size=2", payer)).body;
    expect(all).toMatchObject({ page: 1, page_size: 2, has_more: true });
    expect(holdIds(all)).toEqual([ids[4], ids[3]]);
  });

  it("lists by status", async () => {
    const { payer, ids } = await fiveHolds();
    expect(holdIds((await get(s.url, "/api/holds/v1?status=voided", payer)).body)).toEqual([ids[1]]);
  });

  it("lists nothing to the destination (the list is the payer's)", async () => {
    const { dest } = await fiveHolds();
    expect((await get(s.url, "/api/holds/v1", dest)).body.holds).toEqual([]);
  });

  it("refuses a status that does not exist", async () => {
    const { payer } = await fiveHolds();
    expect((await get(s.url, "/api/holds/v1?status=open", payer)).status).toBe(400);
  });
});
