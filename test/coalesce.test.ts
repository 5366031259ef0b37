/** Balance reads asked for in the same turn of the event loop go to the database as one statement. */
import { afterAll, beforeAll, expect, it } from "vitest";
import type { Executor } from "../src/core/db/index.js";
import { selectBalances } from "../src/core/store/wallets.js";

const selectBalance = async (db: Executor, u: number) => (await selectBalances(db, u))?.wallets[0];
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  for (let u = 1; u <= 40; u++)
    expect((await post(s.url, "/api/deposit/v1", u, { amount: 1000 + u })).status).toBe(200);
});
afterAll(() => s?.stop());

it("reads forty wallets in one statement, each getting its own row", async () => {
  const statements: string[] = [];
  const db = s.services.ctx.db;
  const counting: Executor = { query: (sql, params, opts) => (statements.push(sql), db.query(sql, params, opts)) };
  const users = [...Array.from({ length: 40 }, (_, i) => i + 1), 7, 7, 999_999];
  const rows = await Promise.all(users.map((u) => selectBalance(counting, u)));
  expect(statements).toHaveLength(1);
  expect(rows.map((r) => r?.balance)).toEqual([...users.slice(0, 40).map((u) => 1000 + u), 1007, 1007, undefined]);
});

it("answers concurrent balance requests through the API, each with its own wallet", async () => {
  const answers = await Promise.all(
    Array.from({ length: 40 }, (_, i) => get(s.url, "/api/wallet/balance/v1", i + 1).then((r) => r.body.balance)),
  );
  expect(answers).toEqual(Array.from({ length: 40 }, (_, i) => 1001 + i));
});

it("reads again in later turns, and a failed statement fails only its own batch", async () => {
  const db = s.services.ctx.db;
  let fail = true;
  const flaky: Executor = {
    query: (sql, params, opts) => (fail ? Promise.reject(new Error("boom")) : db.query(sql, params, opts)),
  };
  await expect(Promise.all([selectBalance(flaky, 1), selectBalance(flaky, 2)])).rejects.toThrow("boom");
  fail = false;
  expect((await selectBalance(flaky, 2))?.balance).toBe(1002);
});
