/**
 * Dozens of concurrent clients moving money at random among a few wallets, with
 * transfers that must fail for funds and opposite transfers at once: afterwards the
 * total is unchanged, nothing is negative, every history sums to its balance and
 * `verify` is clean, and no request failed with a deadlock or a 500.
 */
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../src/core/verify.js";
import { balanceOf, post, startTestServer, type TestServer } from "./helpers/server.js";

// with group commit (batches lock in user-id order) and without (one transaction per
// request, so row locks are contended request by request)
describe.each([
  ["group commit", "true"],
  ["one commit per request", "false"],
])("%s", (_name, groupCommit) => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ GROUP_COMMIT: groupCommit });
  });
  afterAll(() => s.stop());

  it("keeps every invariant under concurrent random transfers", async () => {
    const users = [1, 2, 3, 4, 5];
    for (const u of users) await post(s.url, "/api/deposit/v1", u, { amount: 10_000 });
    const agent = new Agent({ connections: 64 });
    const statuses = new Map<number, number>();
    const codes = new Map<string, number>();
    const clients = 48;
    // money that answered deposits and withdrawals moved: the ledger must say exactly that
    let external = 0;
    const perClient = 40;
    await Promise.all(
      Array.from({ length: clients }, async (_v, c) => {
        for (let i = 0; i < perClient; i++) {
          // half the clients push A->B and B->A at the same time; amounts up to 6000
          // make many transfers fail for funds
          const from = c % 2 === 0 ? users[i % 2]! : users[Math.floor(Math.random() * users.length)]!;
          let to = c % 2 === 0 ? users[(i + 1) % 2]! : users[Math.floor(Math.random() * users.length)]!;
          if (to === from) to = users[(users.indexOf(from) + 1) % users.length]!;
          const kind = i % 10 === 0 ? "withdraw" : i % 10 === 1 ? "deposit" : "transfer";
          const amount =
            kind === "transfer" ? 1 + Math.floor(Math.random() * 6000) : 1 + Math.floor(Math.random() * 50);
          const body = kind === "transfer" ? { destination_user_id: to, amount } : { amount };
          const res = await request(`${s.url}/api/${kind}/v1`, {
            method: "POST",
            dispatcher: agent,
            headers: { authorization: String(from), "content-type": "application/json" },
            body: JSON.stringify(body),
          });
          const json = (await res.body.json()) as { error?: { code: string } };
          statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
          if (res.statusCode === 200 && kind !== "transfer") external += kind === "deposit" ? amount : -amount;
          if (json.error) codes.set(json.error.code, (codes.get(json.error.code) ?? 0) + 1);
        }
      }),
    );
    await agent.close();
    expect([...statuses.keys()].sort()).toEqual([200, 422]);
    expect([...codes.keys()]).toEqual(["insufficient_funds"]);
    expect(statuses.get(200)).toBeGreaterThan(clients * perClient * 0.3);

    const report = await verifyLedger(s.services.ctx);
    expect(report.violations).toEqual([]);
    // every answered deposit and withdrawal is in the balances exactly once, and
    // transfers moved money without making or losing any
    const balances = await Promise.all(users.map((u) => balanceOf(s.url, u)));
    expect(balances.reduce((a, b) => a + b, 0)).toBe(users.length * 10_000 + external);
    expect(external).not.toBe(0);
  });
});
