/**
 * PostgreSQL through a pg pool. Every call checks a connection out, runs one
 * statement with a time limit, and gives the connection back; a connection that
 * failed or timed out is destroyed, never reused. knex exists only for the migrator.
 */
import knexFactory, { type Knex } from "knex";
import pg from "pg";
import { traceQuery } from "../tracing.js";
import { classifyFailure, DatabaseTimeoutError } from "./errors.js";
import { INT8_OID, parseInt8, type Database, type Executor, type QueryOptions } from "./types.js";

const types = {
  getTypeParser: (oid: number, format?: string) =>
    oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as "text"),
};

export type PostgresOptions = { poolMax: number; queryTimeoutMs: number; applicationName?: string };

/** Runs one statement on a checked-out client; true in `broken` when the connection must go. */
async function run<T>(
  client: pg.PoolClient | pg.Client,
  sql: string,
  params: unknown[],
  opts: QueryOptions,
  defaultTimeoutMs: number,
): Promise<T[]> {
  const pending = client.query({ text: sql, values: params, name: opts.name });
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = opts.timeoutMs ?? defaultTimeoutMs;
  try {
    const result = await (timeoutMs > 0
      ? Promise.race([
          pending,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new DatabaseTimeoutError(`no answer from PostgreSQL within ${timeoutMs} ms`)),
              timeoutMs,
            );
          }),
        ])
      : pending);
    return result.rows as T[];
  } catch (err) {
    pending.catch(() => undefined); // the race's loser settles when its connection is closed
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

/** A connection whose call failed this way cannot be trusted with another one. */
const breaksConnection = (err: unknown) => classifyFailure(err) === "unknown";

export function openPostgres(url: string, opts: PostgresOptions): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: opts.poolMax,
    connectionTimeoutMillis: Math.min(opts.queryTimeoutMs, 3000),
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    application_name: opts.applicationName ?? "wallet",
    types,
  });
  pool.on("error", () => undefined); // an idle connection died: the pool drops it
  // A connection that dies while checked out emits 'error' too (besides failing its
  // query), and pg-pool listens only while it is idle: without this, the process
  // would die of an unhandled 'error' event. The failed call is handled where it ran.
  pool.on("connect", (client) => client.on("error", () => undefined));
  let knex: Knex | undefined;

  const db: Database = {
    engine: "pg",
    async query<T>(sql: string, params: unknown[] = [], qopts: QueryOptions = {}): Promise<T[]> {
      return traceQuery("postgresql", sql, async () => {
        const client = await pool.connect();
        let broken: Error | undefined;
        try {
          return await run<T>(client, sql, params, qopts, opts.queryTimeoutMs);
        } catch (err) {
          if (breaksConnection(err)) broken = err as Error;
          throw err;
        } finally {
          client.release(broken);
        }
      });
    },
    async transaction(fn, topts = {}) {
      const client = await pool.connect();
      let broken: Error | undefined;
      const tx: Executor = {
        query: (sql, params = [], qopts = {}) =>
          traceQuery("postgresql", sql, () => run(client, sql, params, qopts, opts.queryTimeoutMs)),
      };
      try {
        const mode = [topts.isolation ? `isolation level ${topts.isolation}` : "", topts.readOnly ? "read only" : ""];
        await tx.query(`begin ${mode.join(" ")}`);
        const result = await fn(tx);
        await tx.query("commit");
        return result;
      } catch (err) {
        if (breaksConnection(err)) broken = err as Error;
        else await client.query("rollback").catch((e: Error) => (broken = e));
        throw err;
      } finally {
        client.release(broken);
      }
    },
    async tryLock(key) {
      const client = new pg.Client({
        connectionString: url,
        application_name: `${opts.applicationName ?? "wallet"}-lock`,
        keepAlive: true,
        connectionTimeoutMillis: 3000,
      });
      let lost = false;
      client.on("error", () => (lost = true));
      client.on("end", () => (lost = true));
      await client.connect();
      try {
        const got = await run<{ ok: boolean }>(client, "select pg_try_advisory_lock($1) as ok", [key], {}, 5000);
        if (!got[0]?.ok) {
          await client.end();
          return null;
        }
      } catch (err) {
        await client.end().catch(() => undefined);
        throw err;
      }
      return {
        alive: async () => {
          if (lost) return false;
          try {
            await run(client, "select 1", [], {}, 2000);
            return true;
          } catch {
            lost = true;
            await client.end().catch(() => undefined);
            return false;
          }
        },
        release: async () => {
          await client.end().catch(() => undefined); // ending the session releases the lock
        },
      };
    },
    knex() {
      knex ??= knexFactory({
        client: "pg",
        connection: { connectionString: url, types, application_name: "wallet-migrate" } as Knex.PgConnectionConfig,
        pool: { min: 0, max: 1 },
      });
      return knex;
    },
    poolStats: () => ({
      used: pool.totalCount - pool.idleCount,
      free: pool.idleCount,
      waiting: pool.waitingCount,
      max: opts.poolMax,
    }),
    async close() {
      await knex?.destroy();
      await pool.end();
    },
  };
  return db;
}
