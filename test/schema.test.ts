/**
 * migrations/schema.sql is the schema a fresh migration makes, functions included:
 * where the current form of each function is read. Regenerate it with
 * `npm run schema:dump` after adding a migration (this test, with --update).
 */
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../src/core/db/index.js";
import { migrateLatest } from "../src/core/migrate.js";
import { adminQuery } from "./helpers/db.js";
import { dbUrl, engine } from "./helpers/env.js";
import { dumpSchema, normaliseDump } from "./helpers/schema.js";

describe.skipIf(engine !== "pg")("the schema snapshot", () => {
  const name = `wallet_schema_${randomBytes(4).toString("hex")}`;
  let dump = "";

  beforeAll(async () => {
    await adminQuery(`create database ${name}`);
    const db = await openDatabase({ databaseUrl: dbUrl(name), dataDir: "", poolMax: 2 });
    try {
      await migrateLatest(db);
    } finally {
      await db.close();
    }
    dump = await dumpSchema(dbUrl(name));
  });

  afterAll(() => adminQuery(`drop database if exists ${name} with (force)`));

  it("matches a fresh migration (npm run schema:dump regenerates it)", async () => {
    await expect(dump).toMatchFileSnapshot("../migrations/schema.sql");
  });

  it("holds the current form of every function", () => {
    // wallet_batch_users is redefined by 002, 003, 004 and 007: the snapshot has 007's
    expect(dump).toMatch(
      /CREATE FUNCTION public\.wallet_batch_users\(p_ops public\.wallet_op\[\]\)[^]*?LANGUAGE plpgsql/,
    );
    expect(dump.match(/^CREATE FUNCTION /gm)?.length).toBeGreaterThan(20);
  });

  it("is stable: pg_dump's session settings, versions and restrict keys are left out", () => {
    const raw = "\\restrict abc\n-- Dumped by pg_dump version 17.1\nSET lock_timeout = 0;\n\n\n\nCREATE TABLE t ();\n";
    expect(normaliseDump(raw)).toMatch(/\n\nCREATE TABLE t \(\);\n$/);
    expect(normaliseDump(raw)).not.toMatch(/restrict|Dumped|SET lock_timeout/);
  });
});
