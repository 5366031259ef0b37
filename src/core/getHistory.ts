import type { CoreContext } from "./context.js";

export type EntryTypeFilter = 0 | 1 | 2 | 3;

export type HistoryEntry = {
  id: string;
  type: "deposit" | "withdraw" | "transfer";
  direction: "in" | "out";
  amount: number;
  balance_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  created_at: string;
};

export type HistoryPage = {
  transactions: HistoryEntry[];
  page: number;
  page_size: number;
  has_more: boolean;
};

export type HistoryQuery = { userId: number; type: EntryTypeFilter; page: number; pageSize: number };

/**
 * Newest first, by id (time-ordered). Served by entries (user_id, id desc) or
 * (user_id, type, id desc). One extra row tells whether another page follows.
 */
export async function getHistory(ctx: CoreContext, q: HistoryQuery): Promise<HistoryPage & { version: number }> {
  const typeFilter = q.type === 0 ? "" : "and e.type = ?";
  const args: number[] = q.type === 0 ? [q.userId] : [q.userId, q.type];
  // the wallet's version is read in the same statement, so from the same snapshot:
  // the page is exactly the history at that version (the cache relies on it)
  const { rows } = await ctx.db.knex.raw<{
    rows: Array<Omit<HistoryEntry, "created_at"> & { created_at: Date | null; version: number | null }>;
  }>(
    `with page as (
     select e.id::text as id,
            case e.type when 1 then 'deposit' when 2 then 'withdraw' else 'transfer' end as type,
            case e.direction when 1 then 'in' else 'out' end as direction,
            e.amount, e.balance_after, e.counterparty_user_id, e.transfer_id::text as transfer_id, e.created_at
       from entries e
      where e.user_id = ? ${typeFilter}
      -- e.id, the bigint: "id" alone would name the text column above, sort as text
      -- and never use the (user_id, id desc) index
      order by e.id desc
      limit ? offset ?)
     select page.*, w.version from (select version from wallets where user_id = ?) w
       left join page on true
      order by page.id::bigint desc`,
    [...args, q.pageSize + 1, (q.page - 1) * q.pageSize, q.userId],
  );
  // no row at all: the wallet does not exist yet; one row with a null id: no entries
  const version = rows[0]?.version ?? 0;
  const entries = rows.filter((r) => r.id !== null);
  const hasMore = entries.length > q.pageSize;
  return {
    transactions: entries.slice(0, q.pageSize).map(({ version: _v, ...r }) => ({
      ...r,
      created_at: new Date(r.created_at!).toISOString(),
    })),
    page: q.page,
    page_size: q.pageSize,
    has_more: hasMore,
    version,
  };
}
