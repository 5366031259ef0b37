/**
 * Around a load run: funding the wallets, waiting for async transfers to complete,
 * and checking the ledger afterwards (totals as the answers say, every invariant),
 * through the database when there is access to it, else through the API.
 */
import { FALLBACK_CURRENCY } from "../../core/currency.js";
import { Pool } from "undici";
import type { Database } from "../../core/db/index.js";
import { seedWallets } from "../../core/seed.js";
import { completionStats, countPendingSince } from "../../core/store/transfers.js";
import { totalBalance } from "../../core/store/wallets.js";
import { verifyLedger } from "../../core/verify.js";
import type { LoadResult } from "./run.js";

export const FUNDS = 1_000_000_000; // cents per wallet: enough that funds never run out in a run

export async function fund(url: string, db: Database | undefined, first: number, users: number): Promise<void> {
  if (db) {
    await seedWallets({ db }, { users, balance: FUNDS, first, currency: FALLBACK_CURRENCY });
    return;
  }
  const pool = new Pool(url, { connections: 16 });
  let next = first;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < first + users) {
        const u = next++;
        const r = await pool.request({
          method: "POST",
          path: "/api/deposit/v1",
          headers: { authorization: String(u) },
          body: `{"amount":${FUNDS}}`,
        });
        await r.body.text();
      }
    }),
  );
  await pool.close();
}

export async function total(url: string, db: Database | undefined, first: number, users: number): Promise<number> {
  if (db) return Number(await totalBalance(db, first, first + users - 1, FALLBACK_CURRENCY));
  const pool = new Pool(url, { connections: 16 });
  let sum = 0;
  for (let u = first; u < first + users; u++) {
    const r = await pool.request({
      method: "GET",
      path: "/api/wallet/balance/v1",
      headers: { authorization: String(u) },
    });
    sum += ((await r.body.json()) as { balance: number }).balance;
  }
  await pool.close();
  return sum;
}

export type AsyncReport = {
  applied: number;
  completion_rps: number;
  completed?: number;
  failed?: number;
  completion_latency_ms?: { p50: number; p90: number; p99: number; max: number };
};

/** Waits until every accepted async transfer is applied; completion rate and latency. */
export async function awaitCompletion(
  url: string,
  db: Database | undefined,
  r: LoadResult,
  startedMs: number,
): Promise<AsyncReport> {
  const deadline = Date.now() + 600_000;
  if (db) {
    const since = new Date(startedMs - 1000);
    while ((await countPendingSince(db, since)) > 0 && Date.now() < deadline) await sleep(100);
    const s = await completionStats(db, since);
    const round = (x: number) => Math.round(x * 10) / 10;
    return {
      applied: s.n,
      completed: s.completed,
      failed: s.failed,
      completion_rps: Math.round(s.n / s.span),
      completion_latency_ms: { p50: round(s.p50), p90: round(s.p90), p99: round(s.p99), max: round(s.max) },
    };
  }
  // over the API alone: a sender's transfers apply in order, so its last one tells
  const pool = new Pool(url, { connections: 8 });
  for (const [user, id] of Object.entries(r.lastAcceptedBySender)) {
    for (;;) {
      const res = await pool.request({
        method: "GET",
        path: `/api/transfer/v2/${id}`,
        headers: { authorization: user },
      });
      const body = (await res.body.json()) as { status: string };
      if (body.status !== "pending" || Date.now() > deadline) break;
      await sleep(50);
    }
  }
  await pool.close();
  return { applied: r.accepted, completion_rps: Math.round(r.accepted / ((Date.now() - startedMs) / 1000)) };
}

export type LedgerReport = {
  ok: boolean;
  total_before: number;
  total_after: number;
  expected_after: number;
  /** the exchange scenario: each currency's balances plus the platform's position, before and after */
  by_currency?: Record<string, { before: number; after: number }>;
  verify: unknown;
};

/** Totals moved exactly as the answered deposits and withdrawals say, and (with the database) every invariant. */
export async function checkLedger(
  url: string,
  db: Database | undefined,
  first: number,
  users: number,
  before: number,
  r: LoadResult,
): Promise<LedgerReport> {
  const after = await total(url, db, first, users);
  const expected = before + r.deposited - r.withdrawn;
  const conserved = after === expected;
  return verified(db, conserved, { total_before: before, total_after: after, expected_after: expected });
}

/**
 * The exchange scenario: in each currency, balances plus the position as before the run
 * (exchanges only move money through the position); totals summed over the currencies.
 */
export async function checkHoldings(
  db: Database | undefined,
  before: Record<string, number>,
  after: Record<string, number>,
): Promise<LedgerReport> {
  const codes = Object.keys(before);
  const sum = (h: Record<string, number>) => codes.reduce((s, c) => s + (h[c] ?? 0), 0);
  const conserved = codes.every((c) => before[c] === after[c]);
  const by_currency = Object.fromEntries(codes.map((c) => [c, { before: before[c]!, after: after[c] ?? 0 }]));
  return verified(db, conserved, {
    total_before: sum(before),
    total_after: sum(after),
    expected_after: sum(before),
    by_currency,
  });
}

/** The totals' verdict, and with the database every invariant (wallet verify's). */
async function verified(
  db: Database | undefined,
  conserved: boolean,
  base: Omit<LedgerReport, "ok" | "verify">,
): Promise<LedgerReport> {
  if (!db) return { ok: conserved, ...base, verify: "not run: no database access" };
  const report = await verifyLedger({ db });
  return { ok: conserved && report.ok, ...base, verify: report.ok ? "clean" : report.violations };
}

const sleep = (ms: number) => new Promise((res) => setTimeout(res, ms));
