/**
 * Migration 020: a worker's claim keeps the transfers whose users it can lock without
 * waiting, keeps each sender's order, and when it can keep none it lets go of what it
 * took and returns the batch as before (to wait for its users in order). Several
 * sessions at once, so PostgreSQL only (the embedded engine has one connection); then
 * four loops draining one queue over shared users: every transfer applied once, in each
 * sender's order, no attempt lost to a deadlock, the ledger whole.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freshDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";

describe.skipIf(engine !== "pg")("the workers' claim (020)", () => {
  let url: string;
  let drop: () => Promise<void>;
  const sessions: pg.Client[] = [];
  const session = async () => {
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    sessions.push(c);
    return c;
  };
  let main: pg.Client;
  let nextId = 10_000;

  beforeAll(async () => {
    const created = await freshDatabase();
    url = created.url!;
    drop = created.drop;
    main = await session();
    // users 1-40, 100,000 each
    await main.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
      'id', (1000 + g)::text, 'u', g, 'a', 100000)) from generate_series(1, 40) g), false)`);
  });
  afterAll(async () => {
    for (const c of sessions) await c.end().catch(() => undefined);
    await drop?.();
  });

  /** Accepts transfers [from, to] in this order; their ids. */
  async function accept(pairs: Array<[number, number]>, amount = 1): Promise<string[]> {
    const ops = pairs.map(([u, c]) => ({ k: 4, id: String(nextId++), u, c, cur: "USD", a: amount }));
    const { rows } = await main.query("select outcome, result from wallet_apply($1::jsonb, false) order by ord", [
      JSON.stringify(ops),
    ]);
    expect(rows.map((r) => r.outcome)).toEqual(ops.map(() => "accepted"));
    return ops.map((o) => o.id);
  }

  async function pendingDone(): Promise<void> {
    await main.query("update transfers set status = 'completed' where status = 'pending'");
  }

  /** The users of these that another session can lock at once (not held by anyone). */
  async function free(users: number[]): Promise<number[]> {
    const probe = await session();
    await probe.query("begin");
    const { rows } = await probe.query(
      "select user_id::int as u from users where user_id = any ($1) order by user_id for update skip locked",
      [users],
    );
    await probe.query("rollback");
    return rows.map((r) => r.u);
  }

  it("keeps the transfers whose users are free, in each sender's order, without waiting", async () => {
    const [a, , , , , f] = await accept([
      [1, 2], // a: free
      [3, 4], // held sender
      [5, 3], // held receiver
      [9, 3], // held receiver...
      [9, 10], // ...so 9's next transfer waits for it
      [7, 8], // f: free
    ]);
    const holder = await session();
    await holder.query("begin");
    await holder.query("select 1 from users where user_id = 3 for update");
    const worker = await session();
    await worker.query("begin");
    await worker.query("set local lock_timeout = '2s'");
    const { rows } = await worker.query("select wallet_claim_transfers(100)::text[] as ids");
    expect(rows[0].ids).toEqual([a, f]);
    // the kept transfers' users are the claim's until it commits
    expect(await free([1, 2, 7, 8])).toEqual([]);
    await worker.query("rollback");
    await holder.query("rollback");
    await pendingDone();
  });

  it("when it can keep none, lets go of what it took and returns the batch in order", async () => {
    const ids = await accept([
      [11, 12],
      [12, 11],
      [13, 12],
    ]);
    const holder = await session();
    await holder.query("begin");
    await holder.query("select 1 from users where user_id = 12 for update");
    const worker = await session();
    await worker.query("begin");
    const { rows } = await worker.query("select wallet_claim_transfers(100)::text[] as ids");
    expect(rows[0].ids).toEqual(ids);
    // 11 and 13 were free and taken in the block that was rolled back: nobody holds them now
    expect(await free([11, 13])).toEqual([11, 13]);
    // and the batch waits for 12 in wallet_lock, then applies
    const applied = worker.query("select count(*)::int as n from wallet_apply_transfers($1::bigint[])", [rows[0].ids]);
    await new Promise((r) => setTimeout(r, 300));
    await holder.query("rollback");
    expect((await applied).rows[0].n).toBe(3);
    await worker.query("commit");
    const { rows: states } = await main.query(
      "select status from transfers where id = any ($1::bigint[]) order by id",
      [ids],
    );
    expect(states.map((r) => r.status)).toEqual(["completed", "completed", "completed"]);
  });

  it("four loops drain a queue over shared users: each transfer once, each sender in order", async () => {
    const before = await main.query("select coalesce(sum(balance), 0)::bigint as s from wallets");
    // 2,000 transfers among users 21-40, ten senders' worth of chains in each batch
    let seed = 7;
    const rnd = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < 2000; i++) {
      const u = 21 + rnd(20);
      let c = 21 + rnd(20);
      if (c === u) c = u === 40 ? 21 : u + 1;
      pairs.push([u, c]);
    }
    const ids: string[] = [];
    for (let i = 0; i < pairs.length; i += 500) ids.push(...(await accept(pairs.slice(i, i + 500), 1 + (i % 7))));
    const loops = await Promise.all([1, 2, 3, 4].map(() => session()));
    let batches = 0;
    await Promise.all(
      loops.map(async (c) => {
        for (;;) {
          const { rows } = await c.query("select outcome, error from wallet_process_transfers(25, 5, 10, 100)");
          for (const r of rows) expect([r.outcome, r.error]).toEqual(["ok", null]);
          if (rows.length === 0) {
            const left = await c.query("select count(*)::int as n from transfers where status = 'pending'");
            if (left.rows[0].n === 0) return;
          } else batches++;
        }
      }),
    );
    expect(batches).toBeGreaterThan(2000 / 25);
    const { rows: done } = await main.query(
      "select count(*) filter (where status = 'completed' and attempts = 1)::int as ok, count(*)::int as n from transfers where id = any ($1::bigint[])",
      [ids],
    );
    expect(done[0]).toEqual({ ok: 2000, n: 2000 });
    // each sender's debits in the journal follow its acceptance order
    for (let u = 21; u <= 40; u++) {
      const { rows } = await main.query(
        "select transfer_id::text as t from journal where user_id = $1 and kind = 3 and direction = -1 and transfer_id >= $2 order by seq",
        [u, ids[0]],
      );
      const mine = ids.filter((_, k) => pairs[k]![0] === u);
      expect(rows.map((r) => r.t)).toEqual(mine);
    }
    const after = await main.query("select coalesce(sum(balance), 0)::bigint as s from wallets");
    expect(after.rows[0].s).toBe(before.rows[0].s);
    const { rows: drift } = await main.query(
      `select count(*)::int as n from wallets w
        where w.balance <> (select coalesce(sum(j.amount * j.direction), 0) from journal j
                             where j.user_id = w.user_id and j.currency = w.currency)`,
    );
    expect(drift[0].n).toBe(0);
  });

  it("reads the queue's first range, not each sender's queue, with statistics taken on an empty queue", async () => {
    // what autovacuum leaves after a quiet spell: no pending transfer in the statistics
    expect((await main.query("select count(*)::int as n from transfers where status = 'pending'")).rows[0].n).toBe(0);
    await main.query("vacuum analyze transfers");
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < 3000; i++) pairs.push([21 + (i % 20), 21 + ((i + 1 + (i % 7)) % 20)]);
    for (let i = 0; i < pairs.length; i += 500) await accept(pairs.slice(i, i + 500));
    const worker = await session();
    await worker.query("begin");
    const read = async () =>
      Number(
        (
          await worker.query(
            "select (idx_tup_fetch + seq_tup_read)::int as n from pg_stat_xact_user_tables where relname = 'transfers'",
          )
        ).rows[0].n,
      );
    const before = await read();
    const { rows } = await worker.query("select cardinality(wallet_claim_transfers(100)) as n");
    const entries = (await read()) - before;
    await worker.query("rollback");
    expect(rows[0].n).toBe(100);
    // the candidates and the pending transfers before the batch's last: about 200 entries;
    // a sender's queue read for each transfer of the batch would be thousands
    expect(entries).toBeLessThan(1000);
    await pendingDone();
  });
});

/**
 * A database whose statistics were taken with no transfer pending (what autovacuum
 * leaves after a quiet spell), then a burst of 20,000 accepted transfers among users
 * 1-200. settled: thousands of transfers accepted and settled before the statistics
 * were taken (0: the statistics saw an empty table).
 */
async function staleQueue(settled: number) {
  const created = await freshDatabase();
  const client = new pg.Client({ connectionString: created.url! });
  await client.connect();
  const accept = (thousands: number) =>
    client.query(
      `select count(*) from generate_series(1, ${thousands}) b, lateral wallet_apply((
         select jsonb_agg(jsonb_build_object('k', 4, 'cur', 'USD', 'id', wallet_next_id()::text,
                                             'u', g % 200 + 1, 'c', (g + b) % 200 + 1, 'a', 1))
           from generate_series(1, 1000) g), false) a`,
    );
  await client.query(`select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
    'id', wallet_next_id()::text, 'u', g, 'a', 1000000)) from generate_series(1, 200) g), false)`);
  if (settled > 0) {
    await accept(settled);
    await client.query("update transfers set status = 'completed', completed_at = now()");
  }
  await client.query("vacuum analyze transfers");
  await accept(20);
  /** Rows of transfers fetched while fn runs, in a transaction rolled back after. */
  const rowsRead = async (fn: () => Promise<void>) => {
    const read = async () =>
      Number(
        (
          await client.query(
            "select (idx_tup_fetch + seq_tup_read)::int as n from pg_stat_xact_user_tables where relname = 'transfers'",
          )
        ).rows[0].n,
      );
    await client.query("begin");
    try {
      const before = await read();
      await fn();
      return (await read()) - before;
    } finally {
      await client.query("rollback");
    }
  };
  return {
    client,
    rowsRead,
    async close() {
      await client.end().catch(() => undefined);
      await created.drop();
    },
  };
}

describe.skipIf(engine !== "pg")("the workers' statements with statistics of an empty queue (021)", () => {
  it("a claim takes its candidates from the front of the queue, not a sort of the whole queue", async () => {
    const q = await staleQueue(0);
    try {
      let n = 0;
      const entries = await q.rowsRead(async () => {
        n = (await q.client.query("select cardinality(wallet_claim_transfers(100)) as n")).rows[0].n;
      });
      expect(n).toBe(100);
      // the first 100 pending and their order check: a few hundred rows; a bitmap of the
      // pending index reads (and sorts) all 20,000
      expect(entries).toBeLessThan(1000);
    } finally {
      await q.close();
    }
  });

  it("a worker's step looks its batch up by id, not by walking the pending entries", async () => {
    const q = await staleQueue(5);
    try {
      // a few steps first, so the queue's front holds settled transfers, as in a drain
      for (let i = 0; i < 10; i++)
        await q.client.query("select count(*) from wallet_process_transfers(100, 5, 10, 100)");
      let n = 0;
      const entries = await q.rowsRead(async () => {
        n = (await q.client.query("select count(*)::int as n from wallet_process_transfers(100, 5, 10, 100)")).rows[0]
          .n;
      });
      expect(n).toBe(100);
      // the claim (a few hundred rows), the batch's 100 locked and marked: under 2,000;
      // an index on pending transfers walked with the ids as a filter: 19,900
      expect(entries).toBeLessThan(2000);
    } finally {
      await q.close();
    }
  });
});
