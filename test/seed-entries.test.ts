/**
 * `wallet seed --entries`: a set-based ledger on both engines that every invariant of
 * `wallet verify` accepts, with ids unique and in time order, a deep wallet, transfers
 * that pair up; run again it skips what it wrote; a range that partly exists is refused.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { resolveConfig } from "../src/core/config.js";
import { openCore, type Core } from "../src/core/index.js";
import { seedHistories } from "../src/core/seed.js";
import { verifyLedger } from "../src/core/verify.js";
import { runCli } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";

let db: Awaited<ReturnType<typeof processDatabase>>;
let core: Core;
beforeAll(async () => {
  db = await processDatabase();
  core = await openCore(resolveConfig({ ...db.env, LOG_LEVEL: "silent" }));
});
afterAll(async () => {
  await core?.close();
  await db.drop();
});

it("writes wallets and entries that keep every invariant, in a few chunks, and skips them when run again", async () => {
  const input = { users: 301, entries: 3800, deep: 800, balance: 5000, first: 10, chunkEntries: 1000 };
  const r = await seedHistories(core.ctx, input);
  expect(r).toEqual({ created: 301, existing: 0, first: 10, last: 310, entries: 3800, deep_user: 10 });
  expect((await verifyLedger(core.ctx)).ok).toBe(true);

  const q = <T>(sql: string) => core.ctx.db.query<T>(sql);
  const [counts] = await q<{ wallets: number; versions: number; deep: number; kinds: number }>(
    `select count(*)::int as wallets, sum(seq)::int as versions,
            max(seq) filter (where user_id = 10)::int as deep,
            (select count(distinct kind)::int from journal) as kinds from users`,
  );
  expect(counts).toEqual({ wallets: 301, versions: 3800, deep: 800, kinds: 3 });
  // one id per operation (a transfer's two rows share it), growing with seq and time in every wallet
  const [ids] = await q<{ ops: number; distinct_ids: number; disorder: number }>(
    `select count(*)::int - (count(*) filter (where kind = 3) / 2)::int as ops, count(distinct id)::int as distinct_ids,
            count(*) filter (where id <= prev_id or created_at <= prev_at)::int as disorder
       from (select id, kind, created_at, lag(id) over w as prev_id, lag(created_at) over w as prev_at
               from journal window w as (partition by user_id order by seq)) j`,
  );
  expect(ids).toEqual({ ops: ids!.distinct_ids, distinct_ids: ids!.distinct_ids, disorder: 0 });
  const [dated] = await q<{ past: boolean }>("select max(created_at) < now() as past from journal");
  expect(dated!.past).toBe(true);

  expect(await seedHistories(core.ctx, input)).toMatchObject({ created: 0, existing: 301, entries: 0 });
  await expect(seedHistories(core.ctx, { ...input, first: 300, deep: 0 })).rejects.toMatchObject({
    code: "invalid_request",
  });
  expect((await verifyLedger(core.ctx)).ok).toBe(true);
});

// each CLI run opens the database (on PGlite, the embedded engine: seconds)
it(
  "is `wallet seed --entries --deep` on the command line, refusing what cannot be seeded",
  { timeout: 300_000 },
  async () => {
    await core.close();
    const cli = (args: string[]) => runCli(["seed", ...args], db.env);
    const r = await cli([
      "--users",
      "20",
      "--balance",
      "100",
      "--first",
      "1000",
      "--entries",
      "250",
      "--deep",
      "60",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toEqual({ created: 20, existing: 0, first: 1000, last: 1019, entries: 250, deep_user: 1000 });
    const verify = await runCli(["verify"], db.env);
    expect(verify.code, verify.stdout).toBe(0);
    for (const bad of [
      ["--users", "20", "--balance", "0", "--first", "2000", "--entries", "40"],
      ["--users", "20", "--balance", "5", "--first", "2000", "--entries", "19"],
      ["--users", "20", "--balance", "5", "--first", "2000", "--deep", "5"],
    ]) {
      const refused = await cli(bad);
      expect([bad, refused.code]).toEqual([bad, 2]);
    }
    core = await openCore(resolveConfig({ ...db.env, LOG_LEVEL: "silent" }));
  },
);
