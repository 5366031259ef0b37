/** The journal read as events, the outbox the relay works through, and its cursors. */
import type { Database, Executor } from "../db/index.js";

export type EventRow = {
  user_id: number;
  seq: number;
  id: string;
  currency: string;
  event: number;
  kind: number | null;
  amount: number;
  balance_after: number;
  available_after: number;
  counterparty_user_id: number | null;
  transfer_id: string | null;
  hold_id: string | null;
  reverses: string | null;
  reason: string | null;
  created_at: string;
  reference: string | null;
  metadata: Record<string, string> | null;
  batch_id: string | null;
};

/** An EventRow's columns of the journal under alias j (every reader of events selects these). */
export const EVENT_COLUMNS = `j.user_id, j.seq, j.id::text as id, j.currency, j.event, j.kind, j.amount, j.balance_after,
  j.available_after, j.counterparty_user_id, j.transfer_id::text as transfer_id, j.hold_id::text as hold_id,
  j.reverses::text as reverses, j.reason, wallet_iso(j.created_at) as created_at,
  j.reference, j.metadata, j.batch_id::text as batch_id`;

/** A wallet's events after a sequence, oldest first: one range read of the primary key. */
export function selectEvents(db: Executor, userId: number, after: number, limit: number): Promise<EventRow[]> {
  return db.query<EventRow>(
    `select ${EVENT_COLUMNS} from journal j where j.user_id = $1 and j.seq > $2 order by j.seq limit $3`,
    [userId, after, limit],
    { name: "select_events" },
  );
}

/** The relay's place in the change log; null when no relay has read it yet. */
export async function relayPosition(db: Executor): Promise<{ xid: string; id: string; ageSeconds: number } | null> {
  const [row] = await db.query<{ xid: string; id: string; age: number }>(
    `select xid::text as xid, change_id::text as id, extract(epoch from now() - updated_at)::float8 as age
       from relay_state`,
  );
  return row ? { xid: row.xid, id: row.id, ageSeconds: row.age } : null;
}

export async function saveRelayPosition(db: Executor, p: { xid: string; id: string }): Promise<void> {
  await db.query(
    `insert into relay_state (id, xid, change_id) values (1, $1::xid8, $2)
     on conflict (id) do update set xid = excluded.xid, change_id = excluded.change_id, updated_at = now()`,
    [p.xid, p.id],
  );
}

/**
 * A relay starting without a position (or after a gap longer than the change log
 * keeps): every wallet with events it has not published, read in one snapshot,
 * and the log's horizon of that snapshot (what it missed is below it, what comes
 * after is in the log).
 */
export async function unpublishedWallets(db: Database): Promise<{ users: number[]; horizon: string }> {
  return db.transaction(
    async (tx) => {
      const [h] = await tx.query<{ xid: string }>("select pg_snapshot_xmin(pg_current_snapshot())::text as xid");
      const rows = await tx.query<{ user_id: number }>(
        `select u.user_id from users u left join relay_cursor c on c.user_id = u.user_id
          where u.seq > coalesce(c.published_seq, 0)`,
        [],
        { timeoutMs: 600_000 },
      );
      return { users: rows.map((r) => r.user_id), horizon: h!.xid };
    },
    { isolation: "repeatable read", readOnly: true },
  );
}

export type Cursor = { user_id: number; published_seq: number; stream_seq: number };

export function loadCursors(db: Executor, users: number[]): Promise<Cursor[]> {
  return db.query<Cursor>(
    "select user_id, published_seq, stream_seq from relay_cursor where user_id = any ($1::bigint[])",
    [users],
  );
}

/** Records how far each wallet was published (never backwards). */
export async function saveCursors(db: Executor, cursors: Cursor[]): Promise<void> {
  if (cursors.length === 0) return;
  await db.query(
    `insert into relay_cursor (user_id, published_seq, stream_seq)
     select * from unnest($1::bigint[], $2::bigint[], $3::bigint[])
     on conflict (user_id) do update
       set published_seq = greatest(relay_cursor.published_seq, excluded.published_seq),
           stream_seq = case when excluded.published_seq >= relay_cursor.published_seq
                             then excluded.stream_seq else relay_cursor.stream_seq end,
           updated_at = now()`,
    [cursors.map((c) => c.user_id), cursors.map((c) => c.published_seq), cursors.map((c) => c.stream_seq)],
  );
}

/** Events the relay has not read from the change log yet, and how long the oldest has waited. */
export async function outboxStats(db: Executor): Promise<{ backlog: number; oldestSeconds: number }> {
  const [row] = await db.query<{ n: number; age: number | null }>(
    `select coalesce(sum(cardinality(c.changes) / 2), 0)::int as n,
            extract(epoch from now() - min(c.created_at))::float8 as age
       from wallet_changes c
      where exists (select 1 from relay_state)
        and (c.xid, c.id) > (select s.xid, s.change_id from relay_state s)`,
  );
  return { backlog: row?.n ?? 0, oldestSeconds: row?.age ?? 0 };
}

/** Deletes published non-ledger events older than the instant (see wallet_prune_events). */
export async function pruneEvents(db: Executor, before: Date): Promise<number> {
  const [row] = await db.query<{ n: number }>("select wallet_prune_events($1) as n", [before], { timeoutMs: 600_000 });
  return row!.n;
}
