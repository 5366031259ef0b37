/**
 * The embedded PostgreSQL (PGlite) in a data folder, or in memory. One connection,
 * in this process: statements run one at a time.
 */
import fs from "node:fs";
import path from "node:path";
import knexFactory, { type Knex } from "knex";
import { PGlite, type Transaction } from "@electric-sql/pglite";
import ClientPgLite from "knex-pglite";
import { traceQuery } from "../tracing.js";
import { lockDataDir } from "./dataDirLock.js";
import { INT8_OID, parseInt8, type Database, type Executor } from "./types.js";

export async function openPglite(dataDir: string): Promise<Database> {
  const inMemory = dataDir.startsWith("memory://");
  let release = () => undefined as void;
  if (!inMemory) {
    fs.mkdirSync(dataDir, { recursive: true });
    release = lockDataDir(dataDir);
  }
  let pglite: PGlite;
  try {
    pglite = new PGlite(inMemory ? "memory://" : path.resolve(dataDir), { parsers: { [INT8_OID]: parseInt8 } });
    await pglite.waitReady;
  } catch (err) {
    release();
    throw err;
  }
  let knex: Knex | undefined;
  const on = (q: PGlite | Transaction): Executor => ({
    query: async <T>(sql: string, params: unknown[] = []) =>
      traceQuery("pglite", sql, async () => (await q.query<T>(sql, params)).rows),
  });
  const direct = on(pglite);
  return {
    engine: "pglite",
    query: direct.query,
    async transaction(fn, opts = {}) {
      return pglite.transaction(async (tx) => {
        if (opts.isolation || opts.readOnly) {
          await tx.query(
            `set transaction ${opts.isolation ? `isolation level ${opts.isolation}` : ""} ${opts.readOnly ? "read only" : ""}`,
          );
        }
        return fn(on(tx));
      });
    },
    // one process owns the embedded database: the lock is this process's to take
    async tryLock() {
      return { alive: async () => !pglite.closed, release: async () => undefined };
    },
    knex() {
      knex ??= knexFactory({
        client: ClientPgLite as unknown as typeof Knex.Client,
        dialect: "postgres",
        connection: () => ({ pglite }) as object,
      } as Knex.Config);
      return knex;
    },
    poolStats: () => undefined,
    async close() {
      await knex?.destroy();
      if (!pglite.closed) await pglite.close();
      release();
    },
  };
}
