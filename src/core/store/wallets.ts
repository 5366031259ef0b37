/** Reading wallets and their journal; opening wallets; seeding. */
import type { Executor } from "../db/index.js";
import { coalesced } from "./coalesce.js";

export type BalanceRow = {
  balance: number;
  /** balance minus the amounts of the active holds (held, and not past expires_at) */
  available: number;
  version: number;
  /** the earliest expiry among its held holds (ms since the epoch), when any: available changes then */
  holdExpiryMs: number | null;
};

/**
 * The wallet's balance, available balance and version; opens it (balance 0) on first
 * use. Available is O(1) from the held column, unless a hold has expired and no one
 * has marked it yet: then those holds are added back (one indexed sum).
 */
export async function readBalance(db: Executor, userId: number): Promise<BalanceRow> {
  const row = await selectBalance(db, userId);
  if (row) return row;
  await openWallet(db, userId);
  return { balance: 0, available: 0, version: 0, holdExpiryMs: null };
}

/**
 * The wallet's balance row, if the wallet exists (opens nothing: a replica may run it).
 * Balances asked for in the same turn of the event loop are read by one statement.
 */
export const selectBalance = coalesced<BalanceRow>(async (db, users) => {
  const rows = await db.query<BalanceRow & { user_id: number }>(
    `select user_id, balance, version, balance - held + case when hold_expiry <= now() then
              (select coalesce(sum(h.amount), 0) from holds h
                where h.user_id = w.user_id and h.status = 'held' and h.expires_at <= now())::bigint
            else 0 end as available,
            (extract(epoch from hold_expiry) * 1000)::float8 as "holdExpiryMs"
       from wallets w where user_id = any ($1::bigint[])`,
    [users],
    { name: "read_balances" },
  );
  return new Map(rows.map(({ user_id, ...row }) => [user_id, row]));
});

/** Opens a wallet with balance 0 if it does not exist; true when it was created. */
export async function openWallet(db: Executor, userId: number): Promise<boolean> {
  const rows = await db.query("insert into wallets (user_id) values ($1) on conflict do nothing returning user_id", [
    userId,
  ]);
  return rows.length > 0;
}

/** A journal row that moved money, as history and statements read it (created_at: a Date, or ISO text). */
export type MoneyRow<At extends Date | string = Date> = {
  id: string;
  kind: number;
  direction: number;
  amount: number;
  balance_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  hold_id: string | null;
  reverses: string | null;
  created_at: At;
};

export type JournalMoneyRow = MoneyRow & { seq: number };

/**
 * A page of the wallet's money rows, newest first (by seq: the order they were
 * applied in), and the wallet's version read in the same statement, so from the
 * same snapshot: the page is exactly the history at that version (the cache relies
 * on it). kind 0: all kinds (the primary key, read backwards); else the kind index.
 * before: only rows with a seq below it (a cursor): the same index, entered at that
 * seq, so a page deep in the history costs what the first one does (offset instead
 * reads and skips every row above the page).
 * version is null when the wallet does not exist.
 */
export async function readHistory(
  db: Executor,
  q: { userId: number; kind: number; limit: number; offset: number; before?: number },
): Promise<{ rows: JournalMoneyRow[]; version: number | null }> {
  const params: unknown[] = [q.userId, q.limit, q.offset];
  const filters = [q.kind === 0 ? "j.kind is not null" : `j.kind = $${params.push(q.kind)}`];
  if (q.before !== undefined) filters.push(`j.seq < $${params.push(q.before)}`);
  const rows = await db.query<Omit<JournalMoneyRow, "seq"> & { seq: number | null; version: number }>(
    `with page as (
       select j.seq, j.id::text as id, j.kind, j.direction, j.amount, j.balance_after, j.counterparty_user_id,
              j.transfer_id::text as transfer_id, j.hold_id::text as hold_id, j.reverses::text as reverses, j.created_at
         from journal j
        where j.user_id = $1 and ${filters.join(" and ")}
        order by j.seq desc
        limit $2 offset $3)
     select page.*, w.version from (select version from wallets where user_id = $1) w
       left join page on true
      order by page.seq desc`,
    params,
  );
  // no row at all: no wallet; one row with a null seq: a wallet without entries
  return {
    rows: rows.filter((r): r is typeof r & { seq: number } => r.seq !== null),
    version: rows[0]?.version ?? null,
  };
}

/**
 * Opens wallets first..last with the given balance, each credited through a journal
 * row (a deposit), in one statement. Wallets that already exist are left as they
 * are. Returns how many it opened.
 */
export async function seedRange(db: Executor, first: number, last: number, balance: number): Promise<number> {
  // the opening deposits are changes like any other: in the change log
  const [row] = await db.query<{ n: number }>(
    `with opened as (
       insert into wallets (user_id, balance, version)
       select g, $3::bigint, case when $3::bigint > 0 then 1 else 0 end from generate_series($1::bigint, $2::bigint) g
       on conflict do nothing
       returning user_id
     ), credited as (
       insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after)
       select user_id, 1, wallet_next_id(), 1, 1, 1, $3::bigint, $3::bigint, $3::bigint from opened where $3::bigint > 0
       returning *
     )
     select (select count(*) from opened)::int as n,
            wallet_log_changes(coalesce((select array_agg(row(c.*)::journal) from credited c), '{}'))`,
    [first, last, balance],
  );
  return row!.n;
}

/** The sum of the balances of wallets first..last (exact, as text: it may pass 2^53). */
export async function totalBalance(db: Executor, first: number, last: number): Promise<bigint> {
  const [row] = await db.query<{ total: string }>(
    "select coalesce(sum(balance), 0)::text as total from wallets where user_id between $1 and $2",
    [first, last],
  );
  return BigInt(row!.total);
}
