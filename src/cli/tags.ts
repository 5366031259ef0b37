/**
 * --reference, --metadata key=value (repeatable) and --expected-version on the money
 * commands: judged by the API's own schemas, a malformed one is a usage error (exit 2).
 */
import type { Command } from "commander";
import type { z } from "zod";
import type { Tags } from "../core/operations.js";
import { describeIssues } from "../server/schemas.js";
import { ExpectedVersion, Metadata, Reference } from "../server/tagSchemas.js";
import { UsageError } from "./errors.js";

export type TagOpts = { reference?: string; metadata?: string[]; expectedVersion?: string };

/** Adds the three options to a money command. */
export function tagOptions(c: Command): Command {
  return c
    .option("--reference <text>", "your own id for it (1..128 printable characters), stored with its entries")
    .option(
      "--metadata <key=value>",
      "a label stored with it (repeat for more: up to 20)",
      (v: string, all: string[] = []) => [...all, v],
    )
    .option("--expected-version <n>", "apply only if the wallet it debits is at this version (else version_mismatch)");
}

function judged<S extends z.ZodType>(schema: S, value: unknown, name: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new UsageError(`${name}: ${describeIssues(r.error)}`);
  return r.data;
}

/** The tags given, or undefined when none was. */
export function parseTags(o: TagOpts): Tags | undefined {
  const tags: Tags = {};
  if (o.reference !== undefined) tags.reference = judged(Reference, o.reference, "--reference");
  if (o.metadata !== undefined) {
    const pairs = o.metadata.map((kv) => {
      const eq = kv.indexOf("=");
      if (eq <= 0) throw new UsageError(`--metadata must be key=value (got '${kv}')`);
      return [kv.slice(0, eq), kv.slice(eq + 1)] as const;
    });
    tags.metadata = judged(Metadata, Object.fromEntries(pairs), "--metadata");
  }
  if (o.expectedVersion !== undefined) {
    const n = /^[0-9]{1,16}$/.test(o.expectedVersion) ? Number(o.expectedVersion) : -1;
    tags.expectedVersion = judged(ExpectedVersion, n, "--expected-version");
  }
  return Object.keys(tags).length ? tags : undefined;
}

/** The tags as a JSON body carries them. */
export function tagBody(t: Tags | undefined): Record<string, unknown> {
  if (!t) return {};
  return {
    ...(t.reference !== undefined ? { reference: t.reference } : {}),
    ...(t.metadata !== undefined ? { metadata: t.metadata } : {}),
    ...(t.expectedVersion !== undefined ? { expected_version: t.expectedVersion } : {}),
  };
}
