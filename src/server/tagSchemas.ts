/**
 * What a client may attach to every money-moving request: its own reference, a
 * little metadata (both stored with the entries, holds and transfers it makes) and
 * the wallet version the request is conditional on.
 */
import { z } from "zod";
import { isPrintableText } from "../core/freeText.js";
import { MAX_CENTS } from "../core/money.js";
import type { Tags } from "../core/operations.js";

export const REFERENCE_MAX = 128;
export const METADATA_MAX_KEYS = 20;
export const METADATA_MAX_BYTES = 4096;
export const METADATA_VALUE_MAX = 500;
const KEY = /^[A-Za-z0-9_.-]{1,40}$/;

export const Reference = z
  .string({ error: "must be a string" })
  .refine((r) => [...r].length >= 1 && [...r].length <= REFERENCE_MAX, {
    error: `must be 1..${REFERENCE_MAX} characters`,
  })
  .refine(isPrintableText, { error: "must not contain control characters" })
  .meta({ description: `Your own id for it, 1..${REFERENCE_MAX} printable characters`, example: "order-4411" });

export const Metadata = z
  .record(
    z.string().regex(KEY, { error: "keys are 1..40 characters of A-Za-z0-9_.-" }),
    z
      .string({ error: "values must be strings" })
      .max(METADATA_VALUE_MAX, { error: `values are at most ${METADATA_VALUE_MAX} characters` }),
  )
  .refine((m) => Object.keys(m).length <= METADATA_MAX_KEYS, { error: `at most ${METADATA_MAX_KEYS} keys` })
  .refine((m) => Buffer.byteLength(JSON.stringify(m), "utf8") <= METADATA_MAX_BYTES, {
    error: `at most ${METADATA_MAX_BYTES} bytes of JSON in all`,
  })
  .meta({ description: "Your own labels: up to 20 string values, 4 KiB in all", example: { order: "4411" } });

export const ExpectedVersion = z
  .int({ error: "must be a non-negative integer" })
  .min(0, { error: "must be a non-negative integer" })
  .max(MAX_CENTS, { error: "must be a non-negative integer" })
  .meta({ description: "Apply only if the wallet this debits (yours for a deposit) is at this version (else 409)" });

/** The fields every money-moving body may carry. */
export const TagFields = {
  reference: Reference.optional(),
  metadata: Metadata.optional(),
  expected_version: ExpectedVersion.optional(),
};

/** A validated body's tags, in the core's names. */
export function tagsOf(b: { reference?: string; metadata?: Record<string, string>; expected_version?: number }): Tags {
  return { reference: b.reference, metadata: b.metadata, expectedVersion: b.expected_version };
}
