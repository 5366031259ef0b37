/**
 * Every read that may be served by the read replica, and how each judges whether
 * the replica's answer is fresh enough (see router.ts). Without a router (the CLI's
 * direct mode, a process without DATABASE_READ_URL) each reads the primary.
 *
 *   balance, history   one statement returns the wallet's version with the data: the
 *                      replica's answer is used if that version >= the known one
 *   events             events are the journal rows, seq = the version they made: a
 *                      full page, or one that reaches the known version, is complete
 *   statements, past   read in one snapshot with the wallet's version on the replica
 *   balances
 *   transfer status    the replica's answer only when final (completed or failed:
 *                      it never changes again); pending, dead or not found: primary
 */
import type { CoreContext } from "../context.js";
import { getHistory, type HistoryPage, type HistoryQuery } from "../history.js";
import { selectEvents, type EventRow } from "../store/events.js";
import { balanceAt, statementRows, type StatementRow } from "../store/operator.js";
import { selectTransfer, type TransferRow } from "../store/transfers.js";
import { readBalances, selectBalances, type UserBalances } from "../store/wallets.js";
import { inSnapshot } from "./router.js";

/** The user's wallets and sequence (opening the user, on the primary, on first use). */
export function routedBalances(ctx: CoreContext, userId: number, known?: number | null): Promise<UserBalances> {
  const primary = () => readBalances(ctx.db, userId, ctx.currencies.defaultCurrency);
  if (!ctx.reads) return primary();
  return ctx.reads.read(
    userId,
    async (db, k) => {
      const row = await selectBalances(db, userId);
      return row && row.version >= k ? row : undefined;
    },
    primary,
    known,
  );
}

export function routedHistory(
  ctx: CoreContext,
  q: HistoryQuery,
  known?: number | null,
): Promise<HistoryPage & { version: number }> {
  const primary = () => getHistory(ctx, q);
  if (!ctx.reads) return primary();
  return ctx.reads.read(
    q.userId,
    async (db, k) => {
      const page = await getHistory({ ...ctx, db }, q);
      return page.version >= k ? page : undefined;
    },
    primary,
    known,
  );
}

export function routedEvents(ctx: CoreContext, userId: number, after: number, limit: number): Promise<EventRow[]> {
  const primary = () => selectEvents(ctx.db, userId, after, limit);
  if (!ctx.reads) return primary();
  return ctx.reads.read(
    userId,
    async (db, k) => {
      const rows = await selectEvents(db, userId, after, limit);
      const reached = rows.at(-1)?.seq ?? after;
      return rows.length >= limit || reached >= k ? rows : undefined;
    },
    primary,
  );
}

export function routedStatement(
  ctx: CoreContext,
  userId: number,
  currency: string,
  from: Date,
  to: Date,
): Promise<{ opening: number; rows: StatementRow[] }> {
  const primary = () => statementRows(ctx.db, userId, currency, from, to);
  if (!ctx.reads) return primary();
  return ctx.reads.read(
    userId,
    (db, k) => inSnapshot(db, userId, k, (tx) => statementRows(tx, userId, currency, from, to)),
    primary,
  );
}

export function routedBalanceAt(
  ctx: CoreContext,
  userId: number,
  currency: string,
  at: Date,
): Promise<{ balance: number; available: number }> {
  const primary = () => balanceAt(ctx.db, userId, currency, at);
  if (!ctx.reads) return primary();
  return ctx.reads.read(
    userId,
    (db, k) => inSnapshot(db, userId, k, (tx) => balanceAt(tx, userId, currency, at)),
    primary,
  );
}

const FINAL = new Set(["completed", "failed"]);

export function routedTransfer(ctx: CoreContext, id: string): Promise<TransferRow | undefined> {
  const primary = () => selectTransfer(ctx.db, id);
  if (!ctx.reads) return primary();
  return ctx.reads.readFinal(async (db) => {
    const row = await selectTransfer(db, id);
    return row && FINAL.has(row.status) ? row : undefined;
  }, primary);
}
