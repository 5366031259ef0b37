/** What a read replica is asked about itself, and a wallet's version on it. */
import type { Executor } from "../db/index.js";

export type ReplicaState = { standby: boolean; lagMs: number };

/**
 * How far behind the primary the replica is. Caught up when it has replayed all the
 * WAL it received (or it is not a standby at all); else the age of the last
 * transaction it replayed. (After a quiet spell that age is large even though the
 * replica is only a moment behind: it reads as lagging until the next commit is
 * replayed. A stalled replica that has received nothing new reads as caught up: the
 * wallet version check is what keeps its answers fresh enough.)
 */
export async function replicaState(db: Executor, timeoutMs: number): Promise<ReplicaState> {
  const [row] = await db.query<{ standby: boolean; lag_ms: number | null }>(
    `select pg_is_in_recovery() as standby,
            case when not pg_is_in_recovery() or pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() then 0
                 else extract(epoch from clock_timestamp() - pg_last_xact_replay_timestamp()) * 1000
            end::float8 as lag_ms`,
    [],
    { timeoutMs },
  );
  return { standby: row!.standby, lagMs: row!.lag_ms ?? Number.POSITIVE_INFINITY };
}

/** The user's sequence, the version of all its wallets (null: no such user here), for a read in the same snapshot. */
export async function walletVersion(db: Executor, userId: number): Promise<number | null> {
  const [row] = await db.query<{ version: number }>("select seq as version from users where user_id = $1", [userId], {
    name: "wallet_version",
  });
  return row?.version ?? null;
}
