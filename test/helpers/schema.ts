/**
 * The fully migrated schema as text: `pg_dump -s` of a database that has just been
 * migrated, made stable (no pg_dump session settings or version lines, no \restrict
 * keys, which are random per dump). Compared with migrations/schema.sql.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

/** pg_dump from PATH, or the one TEST_PG_DUMP names (it must be as new as the server). */
const PG_DUMP = process.env.TEST_PG_DUMP ?? "pg_dump";

export const SCHEMA_HEADER = [
  "-- The schema after every migration, functions included: generated, do not edit.",
  "-- `npm run schema:dump` writes it from a freshly migrated PostgreSQL (pg_dump -s);",
  "-- test/schema.test.ts fails when it differs from a fresh migration.",
].join("\n");

export function normaliseDump(dump: string): string {
  const kept = dump
    .split("\n")
    .map((line) => line.replace(/\s+$/, ""))
    .filter(
      (line) =>
        !/^\\(un)?restrict /.test(line) &&
        !/^-- Dumped (from database|by pg_dump) version/.test(line) &&
        !/^SET \w+ = .*;$/.test(line) &&
        !/^SELECT pg_catalog\.set_config\('search_path'/.test(line),
    );
  const body = kept
    .join("\n")
    .replace(/\n{3,}/g, "\n\n")
    .trim();
  return `${SCHEMA_HEADER}\n\n${body}\n`;
}

export async function dumpSchema(url: string): Promise<string> {
  const { stdout } = await run(PG_DUMP, ["--schema-only", "--no-owner", "--no-privileges", `--dbname=${url}`], {
    maxBuffer: 64 * 1024 * 1024,
  });
  return normaliseDump(stdout);
}
