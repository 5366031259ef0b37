/** The journal read as events, the outbox the relay works through, and its cursors. */
import type { Executor } from "../db/index.js";

export type EventRow = {
  user_id: number;
  seq: number;
  id: string;
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
};

const COLUMNS = `user_id, seq, id::text as id, event, kind, amount, balance_after, available_after,
                 counterparty_user_id, transfer_id::text as transfer_id, hold_id::text as hold_id,
                 reverses::text as reverses, reason, wallet_iso(created_at) as created_at`;

/** A wallet's events after a sequence, oldest first: one range read of the primary key. */
export function selectEvents(db: Executor, userId: number, after: number, limit: number): Promise<EventRow[]> {
  return db.query<EventRow>(
    `select ${COLUMNS} from journal where user_id = $1 and seq > $2 order by seq limit $3`,
    [userId, after, limit],
    { name: "select_events" },
  );
}

export type OutboxRow = { id: string; users: number[] };

export function readOutbox(db: Executor, limit: number): Promise<OutboxRow[]> {
  return db.query<OutboxRow>("select id::text as id, users from event_outbox order by id limit $1", [limit]);
}

export async function deleteOutbox(db: Executor, ids: string[]): Promise<void> {
  await db.query("delete from event_outbox where id = any ($1::bigint[])", [ids]);
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

/** Events written and not yet published, and how long the oldest has waited. */
export async function outboxStats(db: Executor): Promise<{ backlog: number; oldestSeconds: number }> {
  const [row] = await db.query<{ n: number; age: number | null }>(
    `select coalesce(sum(events), 0)::int as n, extract(epoch from now() - min(created_at))::float8 as age
       from event_outbox`,
  );
  return { backlog: row?.n ?? 0, oldestSeconds: row?.age ?? 0 };
}

/** Deletes published non-ledger events older than the instant (see wallet_prune_events). */
export async function pruneEvents(db: Executor, before: Date): Promise<number> {
  const [row] = await db.query<{ n: number }>("select wallet_prune_events($1) as n", [before], { timeoutMs: 600_000 });
  return row!.n;
}
