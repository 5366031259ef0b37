/** The core library: open it once per process, then call the use cases with its ctx. */
import { ChangeFeed, pairsToChanges, type WalletChange } from "./changes/feed.js";
import type { Config } from "./config.js";
import type { CoreContext } from "./context.js";
import { openDatabase } from "./db/index.js";
import { openPostgres } from "./db/postgres.js";
import { GroupCommit } from "./groupCommit.js";
import { IdSource } from "./ids.js";
import { migrateLatest } from "./migrate.js";
import { ReadRouter } from "./reads/router.js";
import { applyOperations, type OpResult, type Operation } from "./store/ledger.js";

export type Core = { ctx: CoreContext; close(): Promise<void> };

function changesOf(results: OpResult[]): [WalletChange[], number] {
  const changes: WalletChange[] = [];
  let accepted = 0;
  for (const r of results) {
    if (r.changes) changes.push(...pairsToChanges(r.changes.map(Number)));
    if (r.outcome === "accepted" && !r.replayed) accepted++;
  }
  return [changes, accepted];
}

export type CoreOptions = {
  /**
   * A long-running process (serve, worker) follows the database's change feed: its
   * caches, long polls and workers learn of commits from it. Not started here: the
   * caller subscribes first, then starts it.
   */
  listen?: boolean;
  onFeedError?: (err: unknown) => void;
  /** how often the change log is read (ms) */
  feedPollMs?: number;
};

export async function openCore(
  config: Pick<Config, "databaseUrl" | "dataDir" | "dbPoolMax" | "groupCommit" | "migrate" | "requestDeadlineMs"> &
    Partial<Pick<Config, "databaseReadUrl" | "databaseReadMaxLagMs">>,
  opts: CoreOptions = {},
): Promise<Core> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.dbPoolMax,
    queryTimeoutMs: config.requestDeadlineMs,
  });
  try {
    if (config.migrate) await migrateLatest(db);
  } catch (err) {
    await db.close();
    throw err;
  }
  const feed = opts.listen ? new ChangeFeed(db, { onError: opts.onFeedError, pollMs: opts.feedPollMs }) : undefined;
  const commits = new GroupCommit<Operation, OpResult>(
    (ops, retry) => applyOperations(db, ops, retry),
    {
      maxBatch: config.groupCommit ? 256 : 1,
      // PGlite has one connection: more than one batch in flight would only queue
      maxInFlight: db.engine === "pglite" ? 1 : 4,
      deadlineMs: config.requestDeadlineMs,
    },
    // this process's caches hear of its own commits before it answers
    feed ? (results) => feed.publish(...changesOf(results)) : undefined,
  );
  // a long-running process routes its reads (counted); to a replica only with DATABASE_READ_URL
  const replica =
    opts.listen && config.databaseReadUrl && db.engine === "pg"
      ? openPostgres(config.databaseReadUrl, {
          poolMax: config.dbPoolMax,
          // a replica that does not answer soon is bypassed: the primary answers instead
          queryTimeoutMs: Math.min(config.requestDeadlineMs, 3000),
          applicationName: "wallet-read",
        })
      : undefined;
  const reads = opts.listen
    ? new ReadRouter(db, replica, { maxLagMs: config.databaseReadMaxLagMs ?? 3000 })
    : undefined;
  return {
    ctx: { db, ids: new IdSource(db), commits, feed, reads },
    async close() {
      await commits.drain();
      await feed?.close();
      await reads?.close();
      await db.close();
    },
  };
}

export { WalletError, ERROR_CODES, type ErrorCode } from "./errors.js";
