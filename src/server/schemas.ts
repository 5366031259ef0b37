/**
 * One schema per request part: it validates, gives the TypeScript type and feeds
 * the OpenAPI document. Unknown fields and parameters are refused, so a typo
 * ("ammount") is a clear 400 rather than a silently different request.
 */
import { z } from "zod";
import { CURSOR_WITH_PAGE, decodeCursor, type EntryTypeFilter } from "../core/history.js";
import { isPrintableText, PRINTABLE_ERROR } from "../core/freeText.js";
import { parseInstant } from "../core/isoDate.js";
import { MAX_CENTS } from "../core/money.js";
import { Currency } from "./fxSchemas.js";
import { ExpectedVersion, Metadata, Reference, TagFields } from "./tagSchemas.js";
import { HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS } from "../core/operations.js";

export * from "./responses.js";
export * from "./fxSchemas.js";

export const Amount = z
  .int({ error: "must be an integer number of cents" })
  .min(1, { error: "must be at least 1 cent" })
  .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS} cents` })
  .meta({ description: "Cents; an integer from 1 to 2^53-1", example: 1170 });

export const UserId = z
  .int({ error: "must be a positive integer user id" })
  .min(1, { error: "must be a positive integer user id" })
  .max(MAX_CENTS, { error: "must be a positive integer user id" });

export const AmountBody = z.strictObject({ amount: Amount, currency: Currency.optional(), ...TagFields });

export const TransferBody = z.strictObject({
  destination_user_id: UserId.meta({ description: "The receiving user's id", example: 2 }),
  amount: Amount,
  currency: Currency.optional(),
  ...TagFields,
});

const positiveIntString = (name: string, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be a positive integer" })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(1, { error: "must be at least 1" })
        .max(max, { error: `must be at most ${max}` }),
    )
    .meta({ description: name });

const CURSOR_ERROR = "must be a next_cursor returned by a previous page";

export const HistoryQuery = z
  .strictObject({
    type: z
      .enum(["0", "1", "2", "3", "4", "5", "6"], {
        error: "must be 0 (all), 1 (deposit), 2 (withdraw), 3 (transfer), 4 (reversal), 5 (adjustment) or 6 (exchange)",
      })
      .default("0")
      .transform((v) => Number(v) as EntryTypeFilter),
    page: positiveIntString("page", 10_000_000)
      .default(1)
      .meta({ description: "page number from 1, counted from the newest entry (offset paging); 1 with a cursor" }),
    page_size: positiveIntString("page_size", 100).default(30),
    currency: Currency.optional(),
    cursor: z
      .string()
      .transform((v, c) => {
        const seq = decodeCursor(v);
        if (seq !== null) return seq;
        c.addIssue({ code: "custom", message: CURSOR_ERROR });
        return z.NEVER;
      })
      .optional()
      .meta({
        description:
          "Start below the last entry of a previous page: its next_cursor, passed back as it came (opaque). Not with page > 1.",
      }),
    reference: Reference.optional().meta({
      description: "only your entries with this reference (in every currency unless currency is given)",
    }),
  })
  .refine((q) => q.cursor === undefined || q.page === 1, { error: CURSOR_WITH_PAGE, path: ["page"] });

export const EmptyQuery = z.strictObject({});

export const HoldBody = z.strictObject({
  amount: Amount,
  destination_user_id: UserId.optional().meta({
    description: "Who may capture it (and receives the money); absent: the payer captures, out of the system",
    example: 2,
  }),
  expires_in_seconds: z
    .int({ error: "must be a whole number of seconds" })
    .min(1, { error: "must be at least 1 second" })
    .max(HOLD_MAX_SECONDS, { error: `must be at most ${HOLD_MAX_SECONDS} seconds (7 days)` })
    .optional()
    .meta({ description: `Lifetime, 1..${HOLD_MAX_SECONDS} s; default ${HOLD_DEFAULT_SECONDS}`, example: 900 }),
  currency: Currency.optional(),
  ...TagFields,
});

export const CaptureBody = z.strictObject({
  amount: Amount.optional().meta({ description: "How much to move (default: the whole hold); the rest is released" }),
  ...TagFields,
});

export const Reason = z
  .string({ error: "reason is required: why, for the audit log" })
  .min(1, { error: "reason is required: why, for the audit log" })
  .max(500, { error: "reason must be at most 500 characters" })
  .refine((r) => r.trim().length > 0, { error: "reason must not be only whitespace" })
  .refine(isPrintableText, { error: `reason ${PRINTABLE_ERROR}` })
  .meta({ description: "Why (1..500 characters); recorded in the audit log", example: "fraud check #4411" });
const IdString = z
  .string()
  .regex(/^[0-9]{1,19}$/, { error: "must be an id (a string of digits)" })
  .meta({ description: "A transaction or transfer id, as a string" });

export const ReasonBody = z.strictObject({ reason: Reason });
export const ReversalBody = z
  .strictObject({
    transaction_id: IdString.optional(),
    transfer_id: IdString.optional(),
    amount: Amount.optional().meta({ description: "How much to reverse (default: all not yet reversed)" }),
    reason: Reason,
    reference: Reference.optional(),
    metadata: Metadata.optional(),
    expected_version: ExpectedVersion.optional(),
  })
  .refine((b) => (b.transaction_id === undefined) !== (b.transfer_id === undefined), {
    error: "give exactly one of transaction_id and transfer_id",
  });
export const AdjustmentBody = z.strictObject({
  user_id: UserId,
  amount: z
    .int({ error: "must be a signed whole number of cents" })
    .min(-MAX_CENTS, { error: `must be at least -${MAX_CENTS}` })
    .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS}` })
    .refine((a) => a !== 0, { error: "must not be 0" })
    .meta({ description: "Minor units to credit (positive) or debit (negative)", example: -250 }),
  currency: Currency.optional(),
  reason: Reason,
  reference: Reference.optional(),
  metadata: Metadata.optional(),
  expected_version: ExpectedVersion.optional(),
});
export const AuditQuery = z.strictObject({
  after: z
    .string()
    .regex(/^[0-9]{1,19}$/, { error: "must be an audit entry id" })
    .optional(),
  limit: positiveIntString("limit", 1000).default(100),
});
const instant = (name: string) =>
  z
    .string()
    .transform((v, c) => {
      const d = parseInstant(v);
      if (d) return d;
      c.addIssue({
        code: "custom",
        message: `${name} must be an ISO 8601 date or date-time (a real date, years 0001-9999)`,
      });
      return z.NEVER;
    })
    .meta({ description: `${name}: ISO 8601`, format: "date-time" });
export const BalanceQuery = z.strictObject({ at: instant("at").optional(), currency: Currency.optional() });
export const StatementQuery = z.strictObject({
  from: instant("from"),
  to: instant("to"),
  currency: Currency.optional(),
});
export const CurrencyQuery = z.strictObject({ currency: Currency.optional() });

/** A whole number in a query string; the parameter's name comes with the path in describeIssues. */
const intString = (min: number, max: number) =>
  z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be a whole number" })
    .transform(Number)
    .pipe(
      z
        .number()
        .int()
        .min(min, { error: `must be at least ${min}` })
        .max(max, { error: `must be at most ${max}` }),
    );
export const EventsQuery = z.strictObject({
  after: intString(0, Number.MAX_SAFE_INTEGER).default(0).meta({ description: "events after this sequence" }),
  limit: intString(1, 500).default(100),
  wait: intString(0, 30)
    .default(0)
    .meta({ description: "seconds to wait for the next event when there is none yet (long poll)" }),
});
export const HoldListQuery = z.strictObject({
  status: z
    .enum(["held", "captured", "voided", "expired"], { error: "must be held, captured, voided or expired" })
    .optional(),
  page: positiveIntString("page", 10_000_000).default(1),
  page_size: positiveIntString("page_size", 100).default(30),
});

/** "amount: must be ...; destination_user_id: ..." */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((i) => {
      const where = i.path.join(".");
      if (i.code === "unrecognized_keys") return `unknown field(s): ${i.keys.join(", ")}`;
      if (i.code === "invalid_type" && i.message.includes("received undefined")) return `${where} is required`;
      return where ? `${where}: ${i.message}` : i.message;
    })
    .join("; ");
}
