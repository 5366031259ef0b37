/**
 * The database: PostgreSQL through a pg pool when a URL is given, otherwise the
 * embedded PostgreSQL (PGlite) in a data folder. Both run the same migrations and
 * the same SQL, and both return int8 columns as exact JavaScript numbers.
 */
import { openPglite } from "./pglite.js";
import { openPostgres } from "./postgres.js";
import type { Database } from "./types.js";

export type { Database, Engine, Executor, PoolStats, QueryOptions, SessionLock } from "./types.js";
export { DatabaseInUseError } from "./dataDirLock.js";

export type DatabaseOptions = {
  databaseUrl?: string;
  dataDir: string;
  poolMax?: number;
  /** a statement that has not answered by then fails (and its connection is closed) */
  queryTimeoutMs?: number;
};

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl
    ? openPostgres(opts.databaseUrl, { poolMax: opts.poolMax ?? 20, queryTimeoutMs: opts.queryTimeoutMs ?? 5000 })
    : openPglite(opts.dataDir);
}
