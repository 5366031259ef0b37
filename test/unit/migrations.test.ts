/**
 * A landed migration is never edited: a later one changes the schema. Each landed
 * file's sha256 is in migrations/checksums.json (`npm run migrations:land` adds the
 * new ones, never changes an entry); the fully migrated schema is in
 * migrations/schema.sql (test/schema.test.ts, on PostgreSQL).
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../src/core/migrate.js";

const landed: Record<string, string> = JSON.parse(fs.readFileSync(path.join(MIGRATIONS_DIR, "checksums.json"), "utf8"));
const files = fs
  .readdirSync(MIGRATIONS_DIR)
  .filter((f) => /^\d+_.+\.sql$/.test(f))
  .sort();
const sha256 = (file: string) =>
  createHash("sha256")
    .update(fs.readFileSync(path.join(MIGRATIONS_DIR, file)))
    .digest("hex");

describe("landed migrations", () => {
  it.each(Object.keys(landed))("%s is unchanged since it landed", (file) => {
    expect(files, `${file} is listed in checksums.json but gone`).toContain(file);
    expect(sha256(file), `${file} was edited after it landed: write a new migration instead`).toBe(landed[file]);
  });

  it("lists every migration file (npm run migrations:land records a new one)", () => {
    expect(Object.keys(landed).sort()).toEqual(files);
  });

  it("are numbered one after another from 001", () => {
    expect(files.map((f) => f.slice(0, 3))).toEqual(files.map((_, i) => String(i + 1).padStart(3, "0")));
  });
});
