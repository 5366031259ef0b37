import type { Knex } from "knex";

export type Engine = "pg" | "pglite";

export type QueryOptions = {
  /** the call fails (and its connection is closed) past this many milliseconds */
  timeoutMs?: number;
  /** a prepared statement's name: parsed and planned once per connection */
  name?: string;
};

/** The narrow executor the core talks to: one statement, its rows. */
export interface Executor {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[], opts?: QueryOptions): Promise<T[]>;
}

export type TransactionOptions = { isolation?: "repeatable read" | "serializable"; readOnly?: boolean };

/** A session-level advisory lock on a connection of its own: held while that session lives. */
export type SessionLock = {
  /** false once the session (and with it the lock) is gone */
  alive(): Promise<boolean>;
  release(): Promise<void>;
};

export type PoolStats = { used: number; free: number; waiting: number; max: number };

export interface Database extends Executor {
  readonly engine: Engine;
  transaction<T>(fn: (tx: Executor) => Promise<T>, opts?: TransactionOptions): Promise<T>;
  /** The advisory lock `key` if no other session holds it, else null. */
  tryLock(key: number): Promise<SessionLock | null>;
  /** knex on the same database, for the migrator only */
  knex(): Knex;
  poolStats(): PoolStats | undefined;
  close(): Promise<void>;
}

export const INT8_OID = 20;

/** int8 columns as exact JavaScript numbers: balances are bounded by 2^53-1; ids, larger, are selected as text. */
export function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new Error(`int8 value ${text} is not an exact JavaScript number; select it as text`);
  }
  return n;
}
