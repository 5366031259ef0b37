/**
 * Records the sha256 of every migration not yet in migrations/checksums.json (a
 * migration lands once: an entry already there is never changed; the unit test
 * test/unit/migrations.test.ts fails when a landed file differs from its entry).
 * Usage: npm run migrations:land
 */
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const dir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../migrations");
const listFile = path.join(dir, "checksums.json");
const landed = fs.existsSync(listFile) ? JSON.parse(fs.readFileSync(listFile, "utf8")) : {};
const files = fs
  .readdirSync(dir)
  .filter((f) => /^\d+_.+\.sql$/.test(f))
  .sort();
const added = [];
for (const file of files) {
  if (landed[file]) continue;
  landed[file] = createHash("sha256")
    .update(fs.readFileSync(path.join(dir, file)))
    .digest("hex");
  added.push(file);
}
const sorted = Object.fromEntries(
  Object.keys(landed)
    .sort()
    .map((k) => [k, landed[k]]),
);
fs.writeFileSync(listFile, `${JSON.stringify(sorted, null, 2)}\n`);
console.log(added.length ? `landed: ${added.join(", ")}` : "nothing new to land");
