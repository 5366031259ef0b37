/**
 * An upgrade test's world: an empty database of its own (PostgreSQL, or an in-memory
 * PGlite) and a folder holding the migrations an earlier release had (the first
 * `through` files), to migrate it to that release before the current migrations run.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { openDatabase, type Database } from "../../src/core/db/index.js";
import { MIGRATIONS_DIR } from "../../src/core/migrate.js";
import { adminQuery } from "./db.js";
import { dbUrl, engine } from "./env.js";

export type Release = { db: Database; dir: string; close(): Promise<void> };

export async function releaseDatabase(through: number): Promise<Release> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `wallet-migrations-${through}-`));
  for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => /^\d+_.+\.sql$/.test(f))) {
    if (Number(f.slice(0, f.indexOf("_"))) <= through) fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(dir, f));
  }
  let db: Database;
  let drop = async () => undefined as void;
  if (engine === "pglite") {
    db = await openDatabase({ dataDir: "memory://" });
  } else {
    const name = `wallet_upgrade_${randomBytes(4).toString("hex")}`;
    await adminQuery(`create database ${name}`);
    db = await openDatabase({ databaseUrl: dbUrl(name), dataDir: "" });
    drop = () => adminQuery(`drop database if exists ${name} with (force)`);
  }
  return {
    db,
    dir,
    async close() {
      await db.close();
      await drop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
