/** What operators read: a wallet inspected, the audit log, statements and past balances. */
import type { Executor } from "../db/index.js";
import { TAG_COLUMNS, type MoneyRow } from "./wallets.js";

export type InspectView = {
  user_id: number;
  currency: string;
  balance: number;
  available_balance: number;
  frozen: boolean;
  frozen_reason: string | null;
  active_holds: number;
  pending_transfers: number;
  created_at: string;
};

export async function inspectWallet(db: Executor, userId: number, currency: string): Promise<InspectView | undefined> {
  const [row] = await db.query<{ w: InspectView | null }>("select wallet_inspect_json($1, $2) as w", [
    userId,
    currency,
  ]);
  return row?.w ?? undefined;
}

export type AuditEntry = {
  id: string;
  at: string;
  actor: string;
  action: string;
  target: string;
  reason: string | null;
  details: Record<string, unknown>;
};

/** Audit rows after an id, oldest first (the primary key, read forwards). */
export function selectAudit(db: Executor, after: string | null, limit: number): Promise<AuditEntry[]> {
  return db.query<AuditEntry>(
    `select id::text as id, wallet_iso(at) as at, actor, action, target, reason, details
       from audit_log where ($1::bigint is null or id > $1::bigint) order by id limit $2`,
    [after, limit],
  );
}

/** A statement row: created_at as the API writes it (wallet_iso). */
export type StatementRow = MoneyRow<string>;

/**
 * A wallet's statement for [from, to): the balance just before `from` (the last row
 * before it: one step back along (user_id, created_at)), the money rows in the range
 * (one range read of the same index) and their totals. Closing = opening + in - out
 * holds by construction: each row's balance_after follows from the one before.
 */
export async function statementRows(
  db: Executor,
  userId: number,
  currency: string,
  from: Date,
  to: Date,
): Promise<{ opening: number; rows: StatementRow[] }> {
  const [opening] = await db.query<{ b: number }>(
    `select balance_after as b from journal where user_id = $1 and currency = $3 and created_at < $2
      order by created_at desc limit 1`,
    [userId, from, currency],
  );
  const rows = await db.query<StatementRow>(
    `select id::text as id, currency, kind, direction, amount, balance_after, counterparty_user_id,
            transfer_id::text as transfer_id, hold_id::text as hold_id, reverses::text as reverses,
            wallet_iso(created_at) as created_at, ${TAG_COLUMNS}
       from journal j
      where user_id = $1 and currency = $4 and created_at >= $2 and created_at < $3 and kind is not null
      order by created_at, seq`,
    [userId, from, to, currency],
  );
  return { opening: opening?.b ?? 0, rows };
}

/** The balances at an instant: those after the last row at or before it (0 before the first). */
export async function balanceAt(
  db: Executor,
  userId: number,
  currency: string,
  at: Date,
): Promise<{ balance: number; available: number }> {
  const [row] = await db.query<{ balance: number; available: number }>(
    `select balance_after as balance, available_after as available from journal
      where user_id = $1 and currency = $3 and created_at <= $2 order by created_at desc limit 1`,
    [userId, at, currency],
  );
  return row ?? { balance: 0, available: 0 };
}
