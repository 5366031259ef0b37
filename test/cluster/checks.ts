/**
 * What the cluster tests check after load through a failover: the ledger agrees
 * with what every client was told (each request has an amount of its own, so a
 * second application would show), money is conserved, every accepted async transfer
 * reached a final status, every error was a clean 503, and the events stream holds
 * every journal row exactly once.
 */
import { expect } from "vitest";
import type { Database } from "../../src/core/db/index.js";
import { verifyLedger } from "../../src/core/verify.js";
import type { PrivateNats } from "../helpers/nats.js";
import type { Sent } from "../faults/load.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How many times each request (by its unique amount, in [from, to)) is in the ledger. */
async function applications(db: Database, from: number, to: number): Promise<Map<number, number>> {
  const rows = await db.query<{ amount: number; n: number }>(
    `select amount, count(*)::int as n from (
       select j.amount from journal j
        where j.kind in (1, 2)
           or (j.kind = 3 and j.direction = -1 and not exists (select 1 from transfers t where t.id = j.id))
       union all select amount from transfers where async) a
     where amount >= $1 and amount < $2 group by amount`,
    [from, to],
  );
  return new Map(rows.map((r) => [r.amount, r.n]));
}

/** Waits until no async transfer is pending; then none may be anything but final. */
async function settleAsync(db: Database): Promise<void> {
  for (let i = 0; ; i++) {
    const [row] = await db.query<{ n: number }>("select count(*)::int as n from transfers where status = 'pending'");
    if (row!.n === 0) break;
    if (i > 600) throw new Error(`${row!.n} async transfers still pending`);
    await sleep(100);
  }
  const [open] = await db.query<{ n: number }>(
    "select count(*)::int as n from transfers where async and status not in ('completed', 'failed')",
  );
  expect(open!.n, "accepted async transfers not final (dead letters)").toBe(0);
}

export type LedgerReport = { acknowledged: number; unavailable: number; asyncAccepted: number };

/** The ledger agrees with what every client was told; every error a 503 with Retry-After. */
export async function checkLedger(db: Database, sent: Sent[], from: number, to: number): Promise<LedgerReport> {
  await settleAsync(db);
  const seen = await applications(db, from, to);
  const report: LedgerReport = { acknowledged: 0, unavailable: 0, asyncAccepted: 0 };
  const twice: Sent[] = [];
  const lost: Sent[] = [];
  const unclean: Sent[] = [];
  for (const s of sent) {
    const n = seen.get(s.amount) ?? 0;
    if (n > 1) twice.push(s);
    if (s.status === 200 || s.status === 202) {
      report.acknowledged++;
      if (s.status === 202) report.asyncAccepted++;
      if (n !== 1) lost.push(s);
    } else {
      report.unavailable++;
      let code: unknown;
      try {
        code = (JSON.parse(s.body) as { error?: { code?: string } }).error?.code;
      } catch {
        code = undefined;
      }
      if (s.status !== 503 || code !== "unavailable" || s.retryAfter !== "1") unclean.push(s);
    }
  }
  expect(unclean.slice(0, 5), `${unclean.length} answers neither 2xx nor a clean 503`).toEqual([]);
  expect(twice, "applied twice").toEqual([]);
  expect(lost, "acknowledged but not applied exactly once").toEqual([]);
  // money is conserved: the balances are what deposits brought in and withdrawals took out
  const [money] = await db.query<{ balances: string; flows: string }>(
    `select (select sum(balance) from wallets)::text as balances,
            (select sum(case kind when 1 then amount when 2 then -amount else 0 end) from journal)::text as flows`,
  );
  expect(money!.balances).toBe(money!.flows);
  expect((await verifyLedger({ db })).violations).toEqual([]);
  return report;
}

/** Waits until the relay has published everything, then compares the stream with the journal. */
export async function streamEqualsJournal(db: Database, nats: PrivateNats): Promise<number> {
  for (let i = 0; ; i++) {
    const [row] = await db.query<{ n: number }>(
      `select count(*)::int as n from users x left join relay_cursor c on c.user_id = x.user_id
        where x.seq > coalesce(c.published_seq, 0)`,
    );
    if (row!.n === 0) break;
    if (i > 600) throw new Error(`${row!.n} wallets still have unpublished events`);
    await sleep(100);
  }
  const rows = await db.query<{ user_id: number; seqs: number[] }>(
    "select user_id, array_agg(seq order by seq)::int[] as seqs from journal group by user_id",
  );
  const expected = new Map(rows.map((r) => [r.user_id, r.seqs]));
  expect(await nats.readStream()).toEqual(expected); // exactly once each, in sequence order, per wallet
  return [...expected.values()].reduce((n, s) => n + s.length, 0);
}

/** One Prometheus sample's value from a /metrics text (0 when absent); labels "" for none. */
export function sample(metrics: string, name: string, labels: string): number {
  const series = labels ? `${name}{${labels}} ` : `${name} `;
  const line = metrics.split("\n").find((l) => l.startsWith(series));
  return line ? Number(line.split(" ").at(-1)) : 0;
}
