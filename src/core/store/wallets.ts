/** Reading wallets and their journal; opening wallets; seeding. */
import type { Executor } from "../db/index.js";
import { coalesced } from "./coalesce.js";

/** One wallet of a user: its balances and its own version. */
export type WalletBalance = {
  currency: string;
  balance: number;
  /** balance plus the credit line minus the amounts of the active holds (held, and not past expires_at) */
  available: number;
  /** the wallet's credit line (0: none): balance may go down to -creditLimit */
  creditLimit: number;
  /** grows with every change of this wallet (a client's expected_version compares with it) */
  walletVersion: number;
  /** the earliest expiry among its held holds (ms since the epoch), when any: available changes then */
  holdExpiryMs: number | null;
};

/** A user's wallets, read in one statement with the user's sequence (the caches' version). */
export type UserBalances = { version: number; wallets: WalletBalance[] };

/** A wallet's balance row; version is its user's sequence, which every change of any of the user's wallets moves. */
export type BalanceRow = WalletBalance & { version: number };

/** The wallet in currency of a user's balances (a currency never used: balance 0). */
export function walletIn(u: UserBalances, currency: string): BalanceRow {
  const w = u.wallets.find((x) => x.currency === currency);
  // field by field: a spread of w costs a cached balance more than the rest of this function
  return w
    ? {
        currency: w.currency,
        balance: w.balance,
        available: w.available,
        creditLimit: w.creditLimit,
        walletVersion: w.walletVersion,
        holdExpiryMs: w.holdExpiryMs,
        version: u.version,
      }
    : { currency, balance: 0, available: 0, creditLimit: 0, walletVersion: 0, holdExpiryMs: null, version: u.version };
}

/**
 * The user's wallets and sequence; opens the user (and the default currency's wallet,
 * balance 0) on first use. Available is O(1) from the held column, unless a hold has
 * expired and no one has marked it yet: then those holds are added back (one indexed sum).
 */
export async function readBalances(db: Executor, userId: number, defaultCurrency: string): Promise<UserBalances> {
  const row = await selectBalances(db, userId);
  if (row) return row;
  await openWallet(db, userId, defaultCurrency);
  return { version: 0, wallets: [] };
}

/**
 * A user's wallets, if the user exists (opens nothing: a replica may run it).
 * Balances asked for in the same turn of the event loop are read by one statement.
 */
export const selectBalances = coalesced<UserBalances>(async (db, users) => {
  const rows = await db.query<WalletBalance & { user_id: number; version: number; currency: string | null }>(
    `select u.user_id, u.seq as version, w.currency, w.balance, w.version as "walletVersion",
            w.credit_limit as "creditLimit", w.balance + w.credit_limit - w.held + case when w.hold_expiry <= now() then
              (select coalesce(sum(h.amount), 0) from holds h
                where h.user_id = w.user_id and h.currency = w.currency and h.status = 'held'
                  and h.expires_at <= now())::bigint
            else 0 end as available,
            (extract(epoch from w.hold_expiry) * 1000)::float8 as "holdExpiryMs"
       from users u left join wallets w on w.user_id = u.user_id
      where u.user_id = any ($1::bigint[])
      order by u.user_id, w.currency`,
    [users],
    { name: "read_balances" },
  );
  const out = new Map<number, UserBalances>();
  for (const { user_id, version, ...w } of rows) {
    let u = out.get(user_id);
    if (!u) out.set(user_id, (u = { version, wallets: [] }));
    if (w.currency !== null) u.wallets.push(w as WalletBalance);
  }
  return out;
});

/**
 * Opens a user with a wallet in the default currency (balance 0) if the user is new;
 * true when it was created.
 */
export async function openWallet(db: Executor, userId: number, defaultCurrency: string): Promise<boolean> {
  const [row] = await db.query<{ created: boolean }>(
    `with opened as (insert into users (user_id) values ($1) on conflict do nothing returning user_id),
     wallet as (insert into wallets (user_id, currency) select user_id, $2 from opened)
     select exists (select 1 from opened) as created`,
    [userId, defaultCurrency],
  );
  return row!.created;
}

/** A journal row that moved money, as history and statements read it (created_at: a Date, or ISO text). */
export type MoneyRow<At extends Date | string = Date> = {
  id: string;
  currency: string;
  kind: number;
  direction: number;
  amount: number;
  balance_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  hold_id: string | null;
  reverses: string | null;
  created_at: At;
  reference: string | null;
  metadata: Record<string, string> | null;
  batch_id: string | null;
};

/** The journal columns of reference, metadata and batch_id as MoneyRow and events read them. */
export const TAG_COLUMNS = "j.reference, j.metadata, j.batch_id::text as batch_id";

export type JournalMoneyRow = MoneyRow & { seq: number };

/**
 * A page of the wallet's money rows (user, currency), newest first (by seq: the order
 * they were applied in), and the user's sequence read in the same statement, so from
 * the same snapshot: the page is exactly the history at that version (the cache relies
 * on it). kind 0: all kinds (journal_money_idx, read backwards); else the kind index.
 * before: only rows with a seq below it (a cursor): the same index, entered at that
 * seq, so a page deep in the history costs what the first one does (offset instead
 * reads and skips every row above the page).
 * version is null when the user does not exist.
 */
export async function readHistory(
  db: Executor,
  q: {
    userId: number;
    currency?: string;
    kind: number;
    limit: number;
    offset: number;
    before?: number;
    reference?: string;
  },
): Promise<{ rows: JournalMoneyRow[]; version: number | null }> {
  const params: unknown[] = [q.userId, q.limit, q.offset];
  const filters = [q.kind === 0 ? "j.kind is not null" : `j.kind = $${params.push(q.kind)}`];
  // a reference: journal_reference_idx (user, reference, seq), across currencies unless one is named
  if (q.currency !== undefined) filters.push(`j.currency = $${params.push(q.currency)}`);
  if (q.reference !== undefined) filters.push(`j.reference = $${params.push(q.reference)}`);
  if (q.before !== undefined) filters.push(`j.seq < $${params.push(q.before)}`);
  const rows = await db.query<Omit<JournalMoneyRow, "seq"> & { seq: number | null; version: number }>(
    `with page as (
       select j.seq, j.id::text as id, j.currency, j.kind, j.direction, j.amount, j.balance_after, j.counterparty_user_id,
              j.transfer_id::text as transfer_id, j.hold_id::text as hold_id, j.reverses::text as reverses, j.created_at,
              ${TAG_COLUMNS}
         from journal j
        where j.user_id = $1 and ${filters.join(" and ")}
        order by j.seq desc
        limit $2 offset $3)
     select page.*, u.seq as version from (select seq from users where user_id = $1) u
       left join page on true
      order by page.seq desc`,
    params,
  );
  // no row at all: no such user; one row with a null seq: no entries in this currency
  return {
    rows: rows.filter((r): r is typeof r & { seq: number } => r.seq !== null),
    version: rows[0]?.version ?? null,
  };
}

/**
 * Opens users first..last, each with a wallet in currency holding the given balance,
 * credited through a journal row (a deposit), in one statement. Users that already
 * exist are left as they are. Returns how many it opened.
 */
export async function seedRange(
  db: Executor,
  first: number,
  last: number,
  balance: number,
  currency: string,
): Promise<number> {
  // the opening deposits are changes like any other: in the change log
  const [row] = await db.query<{ n: number }>(
    `with opened as (
       insert into users (user_id, seq)
       select g, case when $3::bigint > 0 then 1 else 0 end from generate_series($1::bigint, $2::bigint) g
       on conflict do nothing
       returning user_id
     ), wallet as (
       insert into wallets (user_id, currency, balance, version)
       select user_id, $4, $3::bigint, case when $3::bigint > 0 then 1 else 0 end from opened
     ), credited as (
       insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after, currency)
       select user_id, 1, wallet_next_id(), 1, 1, 1, $3::bigint, $3::bigint, $3::bigint, $4
         from opened where $3::bigint > 0
       returning *
     )
     select (select count(*) from opened)::int as n,
            wallet_log_changes(coalesce((select array_agg(row(c.*)::journal) from credited c), '{}'))`,
    [first, last, balance, currency],
  );
  return row!.n;
}

/** The sum of the balances in currency of users first..last (exact, as text: it may pass 2^53). */
export async function totalBalance(db: Executor, first: number, last: number, currency: string): Promise<bigint> {
  const [row] = await db.query<{ total: string }>(
    "select coalesce(sum(balance), 0)::text as total from wallets where user_id between $1 and $2 and currency = $3",
    [first, last, currency],
  );
  return BigInt(row!.total);
}
