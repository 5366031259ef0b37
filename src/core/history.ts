import type { CoreContext } from "./context.js";
import { WalletError } from "./errors.js";
import { readHistory, type MoneyRow } from "./store/wallets.js";

/** History types: 0 all, then the journal's money kinds. */
export const ENTRY_TYPES = ["deposit", "withdraw", "transfer", "reversal", "adjustment", "exchange"] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];
export type EntryTypeFilter = 0 | 1 | 2 | 3 | 4 | 5 | 6;

export type HistoryEntry = {
  id: string;
  type: EntryType;
  direction: "in" | "out";
  amount: number;
  currency: string;
  balance_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  created_at: string;
  hold_id: string | null;
  reverses: string | null;
  /** an exchange's id (its entries' own id): null unless an exchange */
  exchange_id: string | null;
  reference: string | null;
  metadata: Record<string, string>;
  batch_id: string | null;
};

export type HistoryPage = {
  transactions: HistoryEntry[];
  page: number;
  page_size: number;
  has_more: boolean;
  /** where the next page starts (pass it as cursor); null on the last page */
  next_cursor: string | null;
};

/**
 * page counts pages of pageSize from the newest entry (offset paging); cursor, when
 * given, starts the page below the entry a previous page ended with (page is then 1).
 */
export type HistoryQuery = {
  userId: number;
  /** absent: every currency (only with a reference) */
  currency?: string;
  /** only the entries with this reference */
  reference?: string;
  type: EntryTypeFilter;
  page: number;
  pageSize: number;
  cursor?: number;
};

/**
 * A cursor is the journal seq of the last entry a page returned, in decimal: the next
 * page is the entries below it, one index range read however deep. Clients treat it
 * as opaque text.
 */
export function encodeCursor(seq: number): string {
  return String(seq);
}

export const BAD_CURSOR = "cursor must be a next_cursor returned by a previous page";
export const CURSOR_WITH_PAGE =
  "cursor and page cannot be combined: a cursor starts its own page (leave page out, or 1)";

/** The seq a cursor stands for, or null when the text is not a cursor. */
export function decodeCursor(text: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

/** A journal money row as history and statements show it. */
export function toHistoryEntry(r: MoneyRow<Date | string>): HistoryEntry {
  return {
    id: r.id,
    type: ENTRY_TYPES[r.kind - 1]!,
    direction: r.direction === 1 ? "in" : "out",
    amount: r.amount,
    currency: r.currency,
    balance_after: r.balance_after,
    counterparty_user_id: r.counterparty_user_id,
    transfer_id: r.transfer_id,
    created_at: new Date(r.created_at).toISOString(),
    hold_id: r.hold_id,
    reverses: r.reverses,
    exchange_id: r.kind === 6 ? r.id : null,
    reference: r.reference,
    metadata: r.metadata ?? {},
    batch_id: r.batch_id,
  };
}

/** Newest first. One extra row tells whether another page follows. */
export async function getHistory(ctx: CoreContext, q: HistoryQuery): Promise<HistoryPage & { version: number }> {
  if (q.cursor !== undefined && q.page !== 1) throw new WalletError("invalid_request", CURSOR_WITH_PAGE);
  const { rows, version } = await readHistory(ctx.db, {
    userId: q.userId,
    currency: q.currency,
    kind: q.type,
    limit: q.pageSize + 1,
    offset: q.cursor === undefined ? (q.page - 1) * q.pageSize : 0,
    before: q.cursor,
    reference: q.reference,
  });
  const page = rows.slice(0, q.pageSize);
  const hasMore = rows.length > q.pageSize;
  return {
    transactions: page.map(toHistoryEntry),
    page: q.page,
    page_size: q.pageSize,
    has_more: hasMore,
    next_cursor: hasMore ? encodeCursor(page.at(-1)!.seq) : null,
    version: version ?? 0,
  };
}
