/**
 * The database: PostgreSQL through a pg pool when a URL is given, otherwise the
 * embedded PostgreSQL (PGlite) in a data folder. Both are driven through knex, and
 * both return int8 columns as exact JavaScript numbers (balances are bounded by
 * 2^53-1; ids, which are larger, are always selected as text).
 */
import fs from "node:fs";
import path from "node:path";
import knexFactory, { type Knex } from "knex";
import pg from "pg";
import { PGlite } from "@electric-sql/pglite";
import ClientPgLite from "knex-pglite";
import { traceQueries } from "./tracing.js";

export type Engine = "pg" | "pglite";

export type Database = {
  knex: Knex;
  engine: Engine;
  /** Calls fn whenever a NOTIFY arrives on the channel; returns an unsubscribe. */
  listen(channel: string, fn: () => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  databaseUrl?: string;
  dataDir: string;
  poolMax?: number;
};

const INT8_OID = 20;

function parseInt8(text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n)) {
    throw new Error(`int8 value ${text} is not an exact JavaScript number; select it as text`);
  }
  return n;
}

/** Runs one statement and returns its rows. Arrays bind as PostgreSQL arrays. */
export async function query<T>(knex: Knex, sql: string, params: unknown[] = []): Promise<T[]> {
  const result = (await knex.raw(sql, params as Knex.RawBinding[])) as { rows: T[] };
  return result.rows;
}

export class DatabaseInUseError extends Error {
  override name = "DatabaseInUseError";
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  return opts.databaseUrl ? openPostgres(opts.databaseUrl, opts.poolMax ?? 20) : openPglite(opts.dataDir);
}

async function openPostgres(url: string, poolMax: number): Promise<Database> {
  const types = {
    getTypeParser: (oid: number, format?: string) =>
      oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format as "text"),
  } as unknown as Knex.PgConnectionConfig["types"];
  const knex = knexFactory({
    client: "pg",
    connection: { connectionString: url, types, application_name: "wallet" } as Knex.PgConnectionConfig,
    pool: { min: 0, max: poolMax, idleTimeoutMillis: 30_000 },
    acquireConnectionTimeout: 10_000,
  });
  traceQueries(knex, "postgresql");
  const listeners: pg.Client[] = [];
  return {
    knex,
    engine: "pg",
    async listen(channel, fn) {
      // LISTEN needs a connection of its own, outside the pool
      const client = new pg.Client({ connectionString: url, application_name: "wallet-listen" });
      client.on("error", () => undefined); // a lost listener only slows wake-ups: workers also poll
      await client.connect();
      client.on("notification", (msg) => {
        if (msg.channel === channel) fn();
      });
      await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
      listeners.push(client);
      return async () => {
        listeners.splice(listeners.indexOf(client), 1);
        await client.end().catch(() => undefined);
      };
    },
    async close() {
      await Promise.all(listeners.map((c) => c.end().catch(() => undefined)));
      await knex.destroy();
    },
  };
}

async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  let release = () => undefined as void;
  if (!inMemory) {
    fs.mkdirSync(dataDir, { recursive: true });
    release = lockDataDir(dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = new PGlite(inMemory ? "memory://" : path.resolve(dataDir), {
      parsers: { [INT8_OID]: parseInt8 },
    });
    await pglite.waitReady;
  } catch (err) {
    release();
    throw err;
  }
  const knex = knexFactory({
    client: ClientPgLite as unknown as typeof Knex.Client,
    dialect: "postgres",
    connection: () => ({ pglite }) as object,
  } as Knex.Config);
  traceQueries(knex, "pglite");
  return {
    knex,
    engine: "pglite",
    async listen(channel, fn) {
      const unsubscribe = await pglite.listen(channel, fn);
      return async () => unsubscribe();
    },
    async close() {
      await knex.destroy();
      if (!pglite.closed) await pglite.close();
      release();
    },
  };
}

/**
 * The embedded database serves one process at a time. A second process that finds
 * the folder in use says so instead of opening it (which would corrupt it).
 */
function lockDataDir(dataDir: string): () => void {
  const lockPath = path.join(dataDir, "wallet.pid");
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockPath, String(process.pid), { flag: "wx" });
      return () => {
        try {
          if (fs.readFileSync(lockPath, "utf8") === String(process.pid)) fs.unlinkSync(lockPath);
        } catch {
          /* already gone */
        }
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = Number(fs.readFileSync(lockPath, "utf8"));
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new DatabaseInUseError(
          `the embedded database in ${dataDir} is in use by process ${owner}; ` +
            `run this command against that server with --api <url> (or WALLET_API_URL), ` +
            `or stop it first`,
        );
      }
      fs.unlinkSync(lockPath); // stale: its process is gone
    }
  }
  throw new DatabaseInUseError(`could not lock ${dataDir}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}
