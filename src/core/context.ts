import type { ChangeFeed } from "./changes/feed.js";
import type { CurrencySet } from "./currency.js";
import type { Database } from "./db/index.js";
import type { GroupCommit } from "./groupCommit.js";
import type { IdSource } from "./ids.js";
import type { ReadRouter } from "./reads/router.js";
import type { OpResult, Operation } from "./store/ledger.js";

/**
 * What every use case receives: the database, the id source, group commit (the one
 * way money moves) and, in a long-running process, the change feed
 * and the read router (a read replica, when there is one). A short-lived one (the
 * CLI's direct mode) has neither: reads go to the primary, waits are polls.
 * Use cases never read the environment or open their own connections.
 */
export type CoreContext = {
  db: Database;
  ids: IdSource;
  commits: GroupCommit<Operation, OpResult>;
  /** the currencies accepted and the default (DEFAULT_CURRENCY): requests name one or get the default */
  currencies: CurrencySet;
  feed?: ChangeFeed;
  /** where reads go (primary or replica); unset: the primary (ctx.db) */
  reads?: ReadRouter;
};

/**
 * A long-running process's context (serve, worker, relay): the change feed and the
 * read router always exist. The feed is started by the process assembly once
 * everything that follows it has subscribed.
 */
export type LiveContext = CoreContext & { feed: ChangeFeed; reads: ReadRouter };
