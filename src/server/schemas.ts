/**
 * One schema per request part: it validates, gives the TypeScript type and feeds
 * the OpenAPI document. Unknown fields and parameters are refused, so a typo
 * ("ammount") is a clear 400 rather than a silently different request.
 */
import { z } from "zod";
import { CURSOR_WITH_PAGE, decodeCursor, ENTRY_TYPES, type EntryTypeFilter } from "../core/getHistory.js";
import { MAX_CENTS } from "../core/money.js";
import { HOLD_DEFAULT_SECONDS, HOLD_MAX_SECONDS } from "../core/operations.js";

export const Amount = z
  .int({ error: "must be an integer number of cents" })
  .min(1, { error: "must be at least 1 cent" })
  .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS} cents` })
  .meta({ description: "Cents; an integer from 1 to 2^53-1", example: 1170 });

export const UserId = z
  .int({ error: "must be a positive integer user id" })
  .min(1, { error: "must be a positive integer user id" })
  .max(MAX_CENTS, { error: "must be a positive integer user id" });

export const AmountBody = z.strictObject({ amount: Amount });

export const TransferBody = z.strictObject({
  destination_user_id: UserId.meta({ description: "The receiving user's id", example: 2 }),
  amount: Amount,
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
      .enum(["0", "1", "2", "3", "4", "5"], {
        error: "must be 0 (all), 1 (deposit), 2 (withdraw), 3 (transfer), 4 (reversal) or 5 (adjustment)",
      })
      .default("0")
      .transform((v) => Number(v) as EntryTypeFilter),
    page: positiveIntString("page", 10_000_000)
      .default(1)
      .meta({ description: "page number from 1, counted from the newest entry (offset paging); 1 with a cursor" }),
    page_size: positiveIntString("page_size", 100).default(30),
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
});

export const CaptureBody = z.strictObject({
  amount: Amount.optional().meta({ description: "How much to move (default: the whole hold); the rest is released" }),
});

const Reason = z
  .string({ error: "reason is required: why, for the audit log" })
  .min(1, { error: "reason is required: why, for the audit log" })
  .max(500, { error: "reason must be at most 500 characters" })
  .refine((r) => r.trim().length > 0, { error: "reason must not be only whitespace" })
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
    .meta({ description: "Cents to credit (positive) or debit (negative)", example: -250 }),
  reason: Reason,
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
    .refine(
      (v) => /^\d{4}-\d\d-\d\d(T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(v) && !isNaN(Date.parse(v)),
      {
        error: `${name} must be an ISO 8601 date or date-time`,
      },
    )
    .transform((v) => new Date(v))
    .meta({ description: `${name}: ISO 8601`, format: "date-time" });
export const BalanceQuery = z.strictObject({ at: instant("at").optional() });
export const StatementQuery = z.strictObject({ from: instant("from"), to: instant("to") });

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
export const EventsResponse = z.object({
  events: z.array(
    z.object({
      id: z.string().meta({ description: "<user_id>:<sequence>" }),
      user_id: z.int(),
      sequence: z.int().meta({ description: "the wallet's events counted from 1, no gap, no repeat" }),
      type: z.enum([
        "deposit",
        "withdraw",
        "transfer_in",
        "transfer_out",
        "transfer_failed",
        "hold_created",
        "hold_captured",
        "hold_voided",
        "hold_expired",
        "reversal",
        "adjustment",
        "frozen",
        "unfrozen",
      ]),
      occurred_at: z.string().meta({ format: "date-time" }),
      data: z.record(z.string(), z.unknown()),
    }),
  ),
  next_after: z.int().meta({ description: "the last sequence returned (or after, when none): the next call's after" }),
});

export const HoldListQuery = z.strictObject({
  status: z
    .enum(["held", "captured", "voided", "expired"], { error: "must be held, captured, voided or expired" })
    .optional(),
  page: positiveIntString("page", 10_000_000).default(1),
  page_size: positiveIntString("page_size", 100).default(30),
});

// Responses (for the OpenAPI document)
const Id = z
  .string()
  .regex(/^[0-9]+$/)
  .meta({ description: "64-bit time-ordered id, as a string" });

export const BalanceResponse = z.object({
  balance: z.int(),
  available_balance: z.int().meta({ description: "balance minus the amounts of active holds" }),
});
export const BalanceChangeResponse = z.object({ balance: z.int(), transaction_id: Id });
export const TransferResponse = z.object({ success: z.literal(true), transfer_id: Id, balance: z.int() });
export const TransferAcceptedResponse = z.object({
  success: z.literal(true),
  transfer_id: Id,
  status: z.literal("pending"),
});
export const TransferStatusResponse = z.object({
  transfer_id: Id,
  status: z.enum(["pending", "completed", "failed"]),
  amount: z.int(),
  source_user_id: z.int(),
  destination_user_id: z.int(),
  failure_reason: z.string().optional(),
  dead_lettered: z.boolean().optional(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
});
export const HistoryResponse = z.object({
  transactions: z.array(
    z.object({
      id: Id,
      type: z.enum(ENTRY_TYPES),
      direction: z.enum(["in", "out"]),
      amount: z.int(),
      balance_after: z.int(),
      counterparty_user_id: z.int().nullable(),
      transfer_id: Id.nullable(),
      created_at: z.string().meta({ format: "date-time" }),
      hold_id: Id.nullable().meta({ description: "the hold a capture came from, else null" }),
      reverses: Id.nullable().meta({ description: "the transaction or transfer a reversal reverses, else null" }),
    }),
  ),
  page: z.int().meta({ description: "the page number asked for (1 with a cursor: pages count from it)" }),
  page_size: z.int(),
  has_more: z.boolean(),
  next_cursor: z.string().nullable().meta({
    description:
      "pass it as cursor for the entries below this page (stable while new entries arrive); null on the last page",
  }),
});
const Instant = z.string().meta({ format: "date-time" });
export const HoldResponse = z.object({
  hold_id: Id,
  status: z.enum(["held", "captured", "voided", "expired"]),
  amount: z.int().meta({ description: "the amount held" }),
  captured_amount: z.int().nullable().meta({ description: "what moved, once captured" }),
  user_id: z.int().meta({ description: "the payer" }),
  destination_user_id: z.int().nullable(),
  expires_at: Instant,
  created_at: Instant,
});
export const HoldChangeResponse = HoldResponse.extend({
  balance: z.int().meta({ description: "the payer's balance after it" }),
  available_balance: z.int().meta({ description: "the payer's available balance after it" }),
  transfer_id: Id.optional().meta({ description: "a capture with a destination: its transfer id" }),
  transaction_id: Id.optional().meta({ description: "a capture without a destination: its transaction id" }),
});
export const HoldListResponse = z.object({
  holds: z.array(HoldResponse),
  page: z.int(),
  page_size: z.int(),
  has_more: z.boolean(),
});
export const InspectResponse = z.object({
  user_id: z.int(),
  balance: z.int(),
  available_balance: z.int(),
  frozen: z.boolean(),
  frozen_reason: z.string().nullable(),
  active_holds: z.int(),
  pending_transfers: z.int(),
  created_at: Instant,
});
export const ReversalResponse = z.object({
  reversal_id: Id,
  reverses: Id,
  amount: z.int(),
  remaining: z.int().meta({ description: "what may still be reversed" }),
  kind: z.enum(["deposit", "withdraw", "transfer"]),
  from_user_id: z.int().nullable().meta({ description: "the wallet the money came back from (null: from outside)" }),
  to_user_id: z.int().nullable().meta({ description: "the wallet it went back to (null: out of the system)" }),
  reason: z.string(),
});
export const AdjustmentResponse = z.object({
  transaction_id: Id,
  user_id: z.int(),
  amount: z.int(),
  balance: z.int(),
  available_balance: z.int(),
  reason: z.string(),
});
export const AuditResponse = z.object({
  entries: z.array(
    z.object({
      id: Id,
      at: Instant,
      actor: z.string(),
      action: z.enum(["freeze", "unfreeze", "reversal", "adjustment", "transfer_retry"]),
      target: z.string(),
      reason: z.string().nullable(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  next_after: Id.nullable(),
});
export const PastBalanceResponse = z.object({ balance: z.int(), available_balance: z.int(), at: Instant });
export const BalanceOrPastResponse = z.union([BalanceResponse, PastBalanceResponse]);
export const StatementResponse = z.object({
  from: Instant,
  to: Instant,
  opening_balance: z.int(),
  closing_balance: z.int(),
  total_in: z.int(),
  total_out: z.int(),
  entries: HistoryResponse.shape.transactions,
});
export const ErrorResponse = z.object({
  error: z.object({ code: z.string(), message: z.string() }),
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
