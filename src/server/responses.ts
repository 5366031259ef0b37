/** The responses' schemas: they feed the OpenAPI document (answers are not validated at run time). */
import { z } from "zod";
import { EVENT_TYPES } from "../core/events/format.js";
import { ENTRY_TYPES } from "../core/history.js";

const Id = z
  .string()
  .regex(/^[0-9]+$/)
  .meta({ description: "64-bit time-ordered id, as a string" });

const Currency = z.string().meta({ description: "ISO 4217 code: the wallet's currency", example: "USD" });

const Version = z.int().meta({ description: "grows with every change of this wallet: a write's expected_version" });
/** reference, metadata and batch_id, as every entry, hold, transfer and event shows them */
const Tagged = {
  reference: z.string().nullable().meta({ description: "the client's reference, else null" }),
  metadata: z.record(z.string(), z.string()).meta({ description: "the client's metadata, else {}" }),
};
export const BalanceResponse = z.object({
  currency: Currency,
  balance: z.int(),
  available_balance: z.int().meta({
    description: "balance plus credit_limit minus the amounts of active holds (negative after a line was lowered)",
  }),
  credit_limit: z
    .int()
    .meta({ description: "the wallet's credit line: balance may go down to -credit_limit (0: none)" }),
  version: Version,
});
export const BalanceChangeResponse = z.object({ balance: z.int(), transaction_id: Id, currency: Currency });
export const TransferResponse = z.object({
  success: z.literal(true),
  transfer_id: Id,
  balance: z.int(),
  currency: Currency,
});
export const TransferAcceptedResponse = z.object({
  success: z.literal(true),
  transfer_id: Id,
  status: z.literal("pending"),
});
export const TransferStatusResponse = z.object({
  transfer_id: Id,
  status: z.enum(["pending", "completed", "failed"]),
  amount: z.int(),
  currency: Currency,
  source_user_id: z.int(),
  destination_user_id: z.int(),
  failure_reason: z.string().optional(),
  dead_lettered: z.boolean().optional(),
  created_at: z.string(),
  completed_at: z.string().nullable(),
  ...Tagged,
});
export const HistoryResponse = z.object({
  transactions: z.array(
    z.object({
      id: Id,
      type: z.enum(ENTRY_TYPES),
      direction: z.enum(["in", "out"]),
      amount: z.int(),
      currency: Currency,
      balance_after: z.int(),
      counterparty_user_id: z.int().nullable(),
      transfer_id: Id.nullable(),
      created_at: z.string().meta({ format: "date-time" }),
      hold_id: Id.nullable().meta({ description: "the hold a capture came from, else null" }),
      reverses: Id.nullable().meta({ description: "the transaction or transfer a reversal reverses, else null" }),
      exchange_id: Id.nullable().meta({ description: "an exchange's id (the entry's own id), else null" }),
      ...Tagged,
      batch_id: Id.nullable().meta({ description: "the batch that made it, else null" }),
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
  currency: Currency,
  captured_amount: z.int().nullable().meta({ description: "what moved, once captured" }),
  user_id: z.int().meta({ description: "the payer" }),
  destination_user_id: z.int().nullable(),
  expires_at: Instant,
  created_at: Instant,
  ...Tagged,
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
  currency: Currency,
  balance: z.int(),
  available_balance: z.int(),
  credit_limit: z.int(),
  tier: z.string(),
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
  currency: Currency,
  from_user_id: z.int().nullable().meta({ description: "the wallet the money came back from (null: from outside)" }),
  to_user_id: z.int().nullable().meta({ description: "the wallet it went back to (null: out of the system)" }),
  reason: z.string(),
});
export const AdjustmentResponse = z.object({
  transaction_id: Id,
  user_id: z.int(),
  currency: Currency,
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
      action: z.enum([
        "freeze",
        "unfreeze",
        "reversal",
        "adjustment",
        "transfer_retry",
        "fx_rate",
        "tier_definition",
        "tier",
        "credit_limit",
        "webhook",
        "monitor",
      ]),
      target: z.string(),
      reason: z.string().nullable(),
      details: z.record(z.string(), z.unknown()),
    }),
  ),
  next_after: Id.nullable(),
});
export const PastBalanceResponse = z.object({
  currency: Currency,
  balance: z.int(),
  available_balance: z.int(),
  at: Instant,
});
export const BalanceOrPastResponse = z.union([BalanceResponse, PastBalanceResponse]);
export const StatementResponse = z.object({
  from: Instant,
  to: Instant,
  currency: Currency,
  opening_balance: z.int(),
  closing_balance: z.int(),
  total_in: z.int(),
  total_out: z.int(),
  entries: HistoryResponse.shape.transactions,
});
export const ErrorResponse = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.record(z.string(), z.unknown()).optional().meta({
      description:
        "batch_refused: {index, code}; a malformed batch operation: {index}; limit_exceeded: {limit, remaining, resets_at}",
    }),
  }),
});

export const EventsResponse = z.object({
  events: z.array(
    z.object({
      id: z.string().meta({ description: "<user_id>:<sequence>" }),
      user_id: z.int(),
      sequence: z.int().meta({ description: "the wallet's events counted from 1, no gap, no repeat" }),
      type: z.enum(EVENT_TYPES),
      occurred_at: z.string().meta({ format: "date-time" }),
      data: z.record(z.string(), z.unknown()),
    }),
  ),
  next_after: z.int().meta({ description: "the last sequence returned (or after, when none): the next call's after" }),
});
