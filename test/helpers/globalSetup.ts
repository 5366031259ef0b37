/**
 * Once per run and project: on PostgreSQL, a template database with the schema
 * migrated, which each test file clones (CREATE DATABASE ... TEMPLATE) in
 * milliseconds; dropped at the end.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { openDatabase } from "../../src/core/db/index.js";
import { migrateLatest } from "../../src/core/migrate.js";
import { dbUrl, PG_ADMIN_URL } from "./env.js";

export default async function setup(project: TestProject) {
  const run = randomBytes(4).toString("hex");
  process.env.WALLET_TEST_RUN = run;
  project.provide("runId", run);
  if (project.name !== "pg") return;
  const template = `wallet_tmpl_${run}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${template}`);
  const db = await openDatabase({ databaseUrl: dbUrl(template), dataDir: "unused", poolMax: 2 });
  await migrateLatest(db);
  await db.close();
  return async () => {
    await admin.query(`drop database if exists ${template} with (force)`);
    await admin.end();
  };
}

declare module "vitest" {
  export interface ProvidedContext {
    runId: string;
  }
}
