import type { CoreContext } from "./context.js";
import { readHistory } from "./store/wallets.js";

/** History types: 0 all, then the journal's money kinds. */
export const ENTRY_TYPES = ["deposit", "withdraw", "transfer", "reversal", "adjustment"] as const;
export type EntryType = (typeof ENTRY_TYPES)[number];
export type EntryTypeFilter = 0 | 1 | 2 | 3 | 4 | 5;

export type HistoryEntry = {
  id: string;
  type: EntryType;
  direction: "in" | "out";
  amount: number;
  balance_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  created_at: string;
  hold_id: string | null;
  reverses: string | null;
};

export type HistoryPage = {
  transactions: HistoryEntry[];
  page: number;
  page_size: number;
  has_more: boolean;
};

export type HistoryQuery = { userId: number; type: EntryTypeFilter; page: number; pageSize: number };

/** Newest first. One extra row tells whether another page follows. */
export async function getHistory(ctx: CoreContext, q: HistoryQuery): Promise<HistoryPage & { version: number }> {
  const { rows, version } = await readHistory(ctx.db, {
    userId: q.userId,
    kind: q.type,
    limit: q.pageSize + 1,
    offset: (q.page - 1) * q.pageSize,
  });
  return {
    transactions: rows.slice(0, q.pageSize).map((r) => ({
      id: r.id,
      type: ENTRY_TYPES[r.kind - 1]!,
      direction: r.direction === 1 ? "in" : "out",
      amount: r.amount,
      balance_after: r.balance_after,
      counterparty_user_id: r.counterparty_user_id,
      transfer_id: r.transfer_id,
      created_at: new Date(r.created_at).toISOString(),
      hold_id: r.hold_id,
      reverses: r.reverses,
    })),
    page: q.page,
    page_size: q.pageSize,
    has_more: rows.length > q.pageSize,
    version: version ?? 0,
  };
}
