/**
 * The change log (wallet_changes): one row per transaction that changed wallets or
 * accepted async transfers, read in commit order by its readers (each process's
 * change feed, the events relay). A reader keeps a position (transaction id, row id)
 * and reads up to the horizon: the oldest transaction id still running. Every
 * transaction below it has ended, so nothing new can ever appear behind the position.
 */
import type { Executor } from "../db/index.js";

/** A reader's place in the log: after this (xid, id). */
export type LogPosition = { xid: string; id: string };

export type ChangeRow = { xid: string; id: string; changes: number[]; accepted: number };

/** Where a new reader starts: here and now (the current horizon). */
export async function logHorizon(db: Executor): Promise<LogPosition> {
  const [row] = await db.query<{ xid: string }>("select pg_snapshot_xmin(pg_current_snapshot())::text as xid");
  return { xid: row!.xid, id: "0" };
}

/** Rows after the position and below the horizon, in (xid, id) order, and the position to read from next. */
export async function readChanges(
  db: Executor,
  from: LogPosition,
  limit: number,
): Promise<{ rows: ChangeRow[]; next: LogPosition }> {
  const rows = await db.query<ChangeRow & { top: string }>(
    `with h as (select pg_snapshot_xmin(pg_current_snapshot()) as top)
     select c.xid::text as xid, c.id::text as id, c.changes, c.accepted, h.top::text as top
       from h left join lateral (
         select * from wallet_changes c
          where (c.xid, c.id) > ($1::xid8, $2::bigint) and c.xid < h.top
          order by c.xid, c.id limit $3) c on true`,
    [from.xid, from.id, limit],
    { name: "read_changes" },
  );
  const top = rows[0]!.top;
  const found = rows
    .filter((r) => r.id !== null)
    .map(({ xid, id, changes, accepted }) => ({ xid, id, changes, accepted }));
  // a full page: go on right after its last row; else everything below the horizon is read
  const next = found.length === limit ? { xid: found.at(-1)!.xid, id: found.at(-1)!.id } : { xid: top, id: "0" };
  return { rows: found, next: BigInt(next.xid) < BigInt(from.xid) ? from : next };
}

/**
 * Trims the log: rows older than the age, and behind the relay's position when a
 * relay has one (and the webhook enqueuer's when there are endpoints). A relay that finds rows it never read trimmed catches up by scanning
 * the wallets instead.
 */
export async function trimChanges(db: Executor, olderThanSeconds: number, hardLimitSeconds: number): Promise<number> {
  const [row] = await db.query<{ n: number }>(
    `with gone as (
       delete from wallet_changes c
        where c.created_at < now() - make_interval(secs => $1)
          and (c.created_at < now() - make_interval(secs => $2)
               or not exists (select 1 from relay_state)
               or (c.xid, c.id) <= (select s.xid, s.change_id from relay_state s))
          -- and behind the webhook enqueuer's, while there are endpoints (migration 011)
          and (c.created_at < now() - make_interval(secs => $2)
               or not exists (select 1 from webhook_endpoints)
               or (c.xid, c.id) <= (select s.xid, s.change_id from webhook_state s))
       returning 1)
     select count(*)::int as n from gone`,
    [olderThanSeconds, hardLimitSeconds],
  );
  return row!.n;
}
