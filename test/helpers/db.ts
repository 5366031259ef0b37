import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { inject } from "vitest";
import { dbUrl, engine, PG_ADMIN_URL } from "./env.js";

/**
 * A fresh database for one test file: a clone of the migrated template on
 * PostgreSQL, or an in-memory PGlite. Returns the env a server or CLI needs.
 */
export async function freshDatabase(): Promise<{ env: Record<string, string>; url?: string; drop(): Promise<void> }> {
  if (engine === "pglite") {
    return { env: { WALLET_DATA_DIR: "memory://" }, drop: async () => undefined };
  }
  const name = `wallet_t_${inject("runId")}_${randomBytes(4).toString("hex")}`;
  await adminQuery(`create database ${name} template wallet_tmpl_${inject("runId")}`);
  const url = dbUrl(name);
  return {
    env: { DATABASE_URL: url },
    url,
    drop: () => adminQuery(`drop database if exists ${name} with (force)`),
  };
}

export async function adminQuery(sql: string): Promise<void> {
  // CREATE DATABASE from one template fails if another session is using it; retry
  for (let attempt = 0; ; attempt++) {
    const c = new pg.Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
      return;
    } catch (err) {
      if (attempt > 20 || !/is being accessed by other users/.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    } finally {
      await c.end();
    }
  }
}

/**
 * A database that other processes (`wallet serve`, the CLI) can open: a fresh
 * PostgreSQL database, or on PGlite a data folder of its own (memory:// would die
 * with the process that made it).
 */
export async function processDatabase(): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (engine === "pglite") {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-test-"));
    return { env: { WALLET_DATA_DIR: dir }, drop: async () => fs.rmSync(dir, { recursive: true, force: true }) };
  }
  const db = await freshDatabase();
  return { env: db.env, drop: db.drop };
}
