/** Limits and credit lines: the request schemas and the answers' schemas (for the OpenAPI document). */
import { z } from "zod";
import { MAX_CENTS } from "../core/money.js";
import { Currency } from "./fxSchemas.js";
import { InspectResponse, Reason } from "./schemas.js";

const LimitValue = (description: string) =>
  z
    .int({ error: "must be an integer from 0 to 2^53-1" })
    .min(0, { error: "must be at least 0" })
    .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS}` })
    .optional()
    .meta({ description });

export const CurrencyLimits = z.strictObject({
  max_debit: LimitValue("the largest single debit (minor units)"),
  daily_debit_amount: LimitValue("debits per UTC day, in minor units"),
  daily_debit_count: LimitValue("debits per UTC day, counted"),
  monthly_debit_amount: LimitValue("debits per UTC calendar month, in minor units"),
  max_balance: LimitValue("the largest balance a credit (deposit, transfer in) may leave"),
});

export const TierBody = z.strictObject({
  limits: z
    .record(z.string(), CurrencyLimits)
    .meta({ description: 'Limits per currency code, e.g. {"USD": {"daily_debit_amount": 50000}}; absent: none' }),
});

export const TierAssignBody = z.strictObject({
  tier: z.string({ error: "tier is required" }).min(1).max(40).meta({ example: "verified" }),
  reason: Reason,
  currency: Currency.optional().meta({
    description: "The currency of the wallet answered (default: DEFAULT_CURRENCY)",
  }),
});

export const CreditLimitBody = z.strictObject({
  currency: Currency.optional(),
  credit_limit: z
    .int({ error: "credit_limit must be an integer number of minor units" })
    .min(0, { error: "credit_limit must be at least 0" })
    .max(MAX_CENTS, { error: `credit_limit must be at most ${MAX_CENTS}` })
    .meta({ description: "How far below 0 the balance may go; 0 removes the line", example: 50000 }),
  reason: Reason,
});

const Limits = z.record(z.string(), CurrencyLimits.required().partial());
export const TierResponse = z.object({ name: z.string(), limits: Limits });
export const TiersResponse = z.object({ tiers: z.array(TierResponse) });
export const LimitedInspectResponse = InspectResponse;

export const LimitsResponse = z.object({
  tier: z.string(),
  currency: z.string(),
  credit_limit: z.int(),
  limits: z.array(
    z.object({
      name: z.enum(["max_debit", "daily_debit_amount", "daily_debit_count", "monthly_debit_amount", "max_balance"]),
      limit: z.int(),
      used: z.int().meta({ description: "this UTC day's or month's use; max_balance: the balance; max_debit: 0" }),
      remaining: z.int(),
      resets_at: z.string().nullable().meta({ format: "date-time", description: "null: max_debit and max_balance" }),
    }),
  ),
});
