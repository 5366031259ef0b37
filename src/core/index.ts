/** The core library: open it once per process, then call the use cases with its ctx. */
import { ChangeFeed, pairsToChanges, type WalletChange } from "./changes/feed.js";
import type { Config } from "./config.js";
import type { CoreContext, LiveContext } from "./context.js";
import { openDatabase, type Database } from "./db/index.js";
import { openPostgres } from "./db/postgres.js";
import { CurrencySet, FALLBACK_CURRENCY } from "./currency.js";
import { GroupCommit } from "./groupCommit.js";
import { IdSource } from "./ids.js";
import { migrateLatest } from "./migrate.js";
import { ReadRouter } from "./reads/router.js";
import { applyOperations, type OpResult, type Operation } from "./store/ledger.js";

/** An open core: its context, and close (drain group commit, stop the feed, close the pools). */
export type Core<C extends CoreContext = CoreContext> = { ctx: C; close(): Promise<void> };
export type LiveCore = Core<LiveContext>;

function changesOf(results: OpResult[]): [WalletChange[], number] {
  const changes: WalletChange[] = [];
  let accepted = 0;
  for (const r of results) {
    if (r.changes) changes.push(...pairsToChanges(r.changes));
    if (r.outcome === "accepted" && !r.replayed) accepted++;
  }
  return [changes, accepted];
}

type CoreConfig = Pick<
  Config,
  "databaseUrl" | "dataDir" | "dbPoolMax" | "groupCommit" | "migrate" | "requestDeadlineMs"
> &
  Partial<Pick<Config, "databaseReadUrl" | "databaseReadMaxLagMs" | "defaultCurrency" | "currencies">>;

function currencySet(config: CoreConfig): CurrencySet {
  return new CurrencySet(config.defaultCurrency ?? FALLBACK_CURRENCY, config.currencies);
}

export type LiveOptions = {
  onFeedError?: (err: unknown) => void;
  /** how often the change log is read (ms) */
  feedPollMs?: number;
};

/** A short-lived core (the CLI's direct mode, scripts, tests): no change feed; reads on the primary. */
export async function openCore(config: CoreConfig): Promise<Core> {
  const db = await openMigrated(config);
  const commits = groupCommit(db, config);
  return {
    ctx: { db, ids: new IdSource(db), commits, currencies: currencySet(config) },
    async close() {
      await commits.drain();
      await db.close();
    },
  };
}

/**
 * A long-running process's core: it follows the database's change feed (its caches,
 * long polls and workers learn of commits from it) and routes its reads (to a
 * replica only with DATABASE_READ_URL). The feed is not started here: the caller
 * subscribes first, then starts it.
 */
export async function openLiveCore(config: CoreConfig, opts: LiveOptions = {}): Promise<LiveCore> {
  const db = await openMigrated(config);
  const feed = new ChangeFeed(db, { onError: opts.onFeedError, pollMs: opts.feedPollMs });
  const commits = groupCommit(db, config, feed);
  const replica =
    config.databaseReadUrl && db.engine === "pg"
      ? openPostgres(config.databaseReadUrl, {
          poolMax: config.dbPoolMax,
          // a replica that does not answer soon is bypassed: the primary answers instead
          queryTimeoutMs: Math.min(config.requestDeadlineMs, 3000),
          applicationName: "wallet-read",
        })
      : undefined;
  const reads = new ReadRouter(db, replica, { maxLagMs: config.databaseReadMaxLagMs ?? 3000 });
  return {
    ctx: { db, ids: new IdSource(db), commits, currencies: currencySet(config), feed, reads },
    async close() {
      await commits.drain();
      await feed.close();
      await reads.close();
      await db.close();
    },
  };
}

async function openMigrated(config: CoreConfig): Promise<Database> {
  const db = await openDatabase({
    databaseUrl: config.databaseUrl,
    dataDir: config.dataDir,
    poolMax: config.dbPoolMax,
    queryTimeoutMs: config.requestDeadlineMs,
  });
  try {
    if (config.migrate) {
      await migrateLatest(db, undefined, { defaultCurrency: config.defaultCurrency ?? FALLBACK_CURRENCY });
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  return db;
}

/** feed: this process's caches hear of its own commits before it answers. */
function groupCommit(db: Database, config: CoreConfig, feed?: ChangeFeed): GroupCommit<Operation, OpResult> {
  return new GroupCommit<Operation, OpResult>(
    (ops, retry) => applyOperations(db, ops, retry),
    {
      maxBatch: config.groupCommit ? 256 : 1,
      // PGlite has one connection: more than one batch in flight would only queue
      maxInFlight: db.engine === "pglite" ? 1 : 4,
      deadlineMs: config.requestDeadlineMs,
    },
    feed ? (results) => feed.publish(...changesOf(results)) : undefined,
  );
}

export { WalletError, ERROR_CODES, type ErrorCode } from "./errors.js";
