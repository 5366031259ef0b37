/** The transfers table: the async queue, its dead letters, and each transfer's status. */
import type { Executor } from "../db/index.js";

export type TransferStatus = "pending" | "completed" | "failed" | "dead";

export type TransferRow = {
  id: string;
  status: TransferStatus;
  amount: number;
  currency: string;
  from_user_id: number;
  to_user_id: number;
  async: boolean;
  failure_reason: string | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
  reference: string | null;
  metadata: Record<string, string> | null;
};

const COLUMNS = `id::text as id, status, amount, currency, from_user_id, to_user_id, async, failure_reason,
                 attempts, last_error, created_at, completed_at, reference, metadata`;

/**
 * A transfer by id: its transfers row (async ones), or else, for a synchronous
 * transfer (which writes only journal rows), its sender's journal row.
 */
export async function selectTransfer(db: Executor, id: string): Promise<TransferRow | undefined> {
  const [row] = await db.query<TransferRow>(
    `select ${COLUMNS} from transfers where id = $1::bigint
     union all
     select j.id::text, 'completed', j.amount, j.currency, j.user_id, j.counterparty_user_id, false, null, 1, null,
            j.created_at, j.created_at, j.reference, j.metadata
       from journal j
      where j.id = $1::bigint and j.kind = 3 and j.direction = -1 and j.transfer_id = j.id
        and not exists (select 1 from transfers where id = $1::bigint)
     limit 1`,
    [id],
  );
  return row;
}

export function selectTransfers(
  db: Executor,
  f: { status?: TransferStatus; userId?: number; limit: number },
): Promise<TransferRow[]> {
  return db.query<TransferRow>(
    `select ${COLUMNS} from transfers
      where ($1::text is null or status = $1) and ($2::bigint is null or from_user_id = $2 or to_user_id = $2)
      order by id desc limit $3`,
    [f.status ?? null, f.userId ?? null, f.limit],
  );
}

/**
 * Puts a dead-lettered transfer back in the queue with a fresh set of attempts, tells
 * the workers (the change log) and writes the audit row, in one statement. Returns the status it found
 * (undefined: no such transfer).
 */
export async function requeueDead(
  db: Executor,
  id: string,
  actor: string,
  reason: string | null,
): Promise<TransferStatus | undefined> {
  const [row] = await db.query<{ status: TransferStatus }>(
    `with target as (select id, status from transfers where id = $1::bigint),
          requeued as (
            update transfers t set status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
              from target where t.id = target.id and target.status = 'dead' returning t.id, t.attempts),
          audited as (
            insert into audit_log (id, actor, action, target, reason)
            select wallet_next_id(), $2, 'transfer_retry', 'transfer:' || id, $3 from requeued),
          logged as (
            -- the workers read the change log: one transfer waits again
            insert into wallet_changes (changes, accepted) select '{}', 1 from requeued)
     select target.status from target`,
    [id, actor, reason],
  );
  return row?.status;
}

/** Pending async transfers, the age of the oldest, and dead letters (indexed counts). */
export async function queueStats(db: Executor): Promise<{ pending: number; oldestSeconds: number; dead: number }> {
  const [row] = await db.query<{ n: number; age: number | null; dead: number }>(
    `select count(*)::int as n, extract(epoch from now() - min(created_at))::float8 as age,
            (select count(*)::int from transfers where status = 'dead') as dead
       from transfers where status = 'pending'`,
  );
  return { pending: row?.n ?? 0, oldestSeconds: row?.age ?? 0, dead: row?.dead ?? 0 };
}

/** Async transfers accepted since `since` and still pending (loadtest: wait for completion). */
export async function countPendingSince(db: Executor, since: Date): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    "select count(*)::int as n from transfers where status = 'pending' and created_at >= $1",
    [since],
  );
  return row!.n;
}

export type CompletionStats = {
  n: number;
  completed: number;
  failed: number;
  span: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
};

/** How async transfers accepted since `since` ended, and acceptance-to-completion latency (ms). */
export async function completionStats(db: Executor, since: Date): Promise<CompletionStats> {
  const latency = "extract(epoch from completed_at - created_at)";
  const [row] = await db.query<CompletionStats>(
    `select count(*)::int as n, count(*) filter (where status = 'completed')::int as completed,
            count(*) filter (where status = 'failed')::int as failed,
            coalesce(extract(epoch from max(completed_at) - min(created_at)), 0)::float8 as span,
            coalesce(percentile_cont(0.5) within group (order by ${latency}), 0)::float8 * 1000 as p50,
            coalesce(percentile_cont(0.9) within group (order by ${latency}), 0)::float8 * 1000 as p90,
            coalesce(percentile_cont(0.99) within group (order by ${latency}), 0)::float8 * 1000 as p99,
            coalesce(extract(epoch from max(completed_at - created_at)), 0)::float8 * 1000 as max
       from transfers where async and created_at >= $1`,
    [since],
  );
  return row!;
}
