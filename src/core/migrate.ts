/**
 * Numbered SQL migrations (migrations/NNN_name.sql, with an optional
 * "-- migrate:down" section), run through knex's migrator so both engines share
 * them. Each migration runs in its own transaction.
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Knex } from "knex";
import type { Database } from "./db/index.js";
import { splitSqlStatements } from "./sqlSplit.js";

export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../migrations");

// pg_advisory_lock key: serialises `wallet migrate` / `wallet serve` starting at once
const MIGRATION_LOCK_KEY = 7_305_146_001;

type SqlMigration = { name: string; up: string; down: string };

function loadMigrations(dir: string): SqlMigration[] {
  return fs
    .readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((file) => {
      const text = fs.readFileSync(path.join(dir, file), "utf8");
      const [up = "", down = ""] = text.split(/^-- migrate:down\s*$/m);
      return { name: file, up, down };
    });
}

async function runSql(knex: Knex, sql: string): Promise<void> {
  for (const statement of splitSqlStatements(sql)) await knex.raw(statement);
}

/** What a migration may need to know of the configuration (read in SQL with current_setting). */
export type MigrationSettings = {
  /** the currency that rows written before currencies existed are in (wallet.default_currency) */
  defaultCurrency: string;
};

const DEFAULT_SETTINGS: MigrationSettings = { defaultCurrency: "USD" };

function migrationSource(dir: string, settings: MigrationSettings): Knex.MigrationSource<SqlMigration> {
  // set for the migration's own transaction only
  const prepare = (knex: Knex) =>
    knex.raw("select set_config('wallet.default_currency', ?, true)", [settings.defaultCurrency]);
  return {
    getMigrations: async () => loadMigrations(dir),
    getMigrationName: (m) => m.name,
    getMigration: async (m) => ({
      up: async (knex: Knex) => {
        await prepare(knex);
        await runSql(knex, m.up);
      },
      down: (knex: Knex) => runSql(knex, m.down),
    }),
  };
}

const migratorConfig = (dir: string, settings = DEFAULT_SETTINGS): Knex.MigratorConfig => ({
  migrationSource: migrationSource(dir, settings),
  tableName: "wallet_migrations",
});

/**
 * Runs fn while holding a PostgreSQL advisory lock (in a transaction of its own, on
 * a pool connection, while knex migrates on another), so that several processes
 * migrating at once take turns; the later ones then find nothing left to do. Under
 * that lock no one else is migrating, so a knex lock row left behind by a killed
 * process can be freed safely. PGlite serves one process, which needs no lock.
 */
async function withMigrationLock<T>(db: Database, fn: () => Promise<T>): Promise<T> {
  const free = () =>
    db
      .knex()
      .migrate.forceFreeMigrationsLock(migratorConfig(MIGRATIONS_DIR))
      .catch(() => undefined);
  if (db.engine !== "pg") {
    await free();
    return fn();
  }
  return db.transaction(async (tx) => {
    // waits while another process migrates: that may take a while
    await tx.query("select pg_advisory_xact_lock($1)", [MIGRATION_LOCK_KEY], { timeoutMs: 600_000 });
    await free();
    return fn();
  }, {});
}

/**
 * Whether the applied migrations are exactly these files: two plain reads, where knex's
 * migrator spends a dozen statements (information_schema lookups, its lock row) even
 * when there is nothing to do. A CLI call in direct mode on PGlite spent about a
 * second there.
 */
async function upToDate(db: Database, dir: string): Promise<boolean> {
  const [table] = await db.query<{ t: string | null }>("select to_regclass('wallet_migrations')::text as t");
  if (!table?.t) return false;
  const rows = await db.query<{ name: string }>("select name from wallet_migrations");
  const applied = new Set(rows.map((r) => r.name));
  const files = loadMigrations(dir);
  // a database ahead of these files goes to the migrator, which refuses it
  return applied.size === files.length && files.every((m) => applied.has(m.name));
}

export async function migrateLatest(
  db: Database,
  dir = MIGRATIONS_DIR,
  settings: MigrationSettings = DEFAULT_SETTINGS,
): Promise<string[]> {
  if (await upToDate(db, dir)) return [];
  return withMigrationLock(db, async () => {
    const [, applied] = (await db.knex().migrate.latest(migratorConfig(dir, settings))) as [number, string[]];
    return applied;
  });
}

export async function migrateRollback(db: Database, dir = MIGRATIONS_DIR): Promise<string[]> {
  return withMigrationLock(db, async () => {
    const [, undone] = (await db.knex().migrate.rollback(migratorConfig(dir))) as [number, string[]];
    return undone;
  });
}

export type MigrationStatus = { applied: string[]; pending: string[] };

export async function migrationStatus(db: Database, dir = MIGRATIONS_DIR): Promise<MigrationStatus> {
  const [done, pending] = (await db.knex().migrate.list(migratorConfig(dir))) as [
    Array<{ name: string }>,
    Array<SqlMigration>,
  ];
  return { applied: done.map((m) => m.name), pending: pending.map((m) => m.name) };
}
