/** Currencies and exchange: the request schemas and the answers' schemas (for the OpenAPI document). */
import { z } from "zod";
import { TagFields } from "./tagSchemas.js";
import { isIsoCurrency } from "../core/currency.js";
import { isPrintableText, PRINTABLE_ERROR } from "../core/freeText.js";
import { MAX_CENTS } from "../core/money.js";

/**
 * A currency as a request names it: an active ISO 4217 code (400 otherwise). Whether
 * this service accepts it (CURRENCIES) is judged by the handler: 422 currency_not_supported.
 */
export const Currency = z
  .string({ error: "must be an ISO 4217 currency code, such as USD" })
  .refine((c) => /^[A-Z]{3}$/.test(c) && isIsoCurrency(c), {
    error: "must be an active ISO 4217 currency code in capitals, such as USD",
  })
  .meta({ description: "ISO 4217 code; absent: the service's DEFAULT_CURRENCY", example: "EUR" });

const Id = z
  .string()
  .regex(/^[0-9]+$/)
  .meta({ description: "64-bit time-ordered id, as a string" });
const Instant = z.string().meta({ format: "date-time" });
const Code = z.string().meta({ description: "ISO 4217 code", example: "EUR" });

export const QuoteBody = z.strictObject({
  from_currency: Currency,
  to_currency: Currency,
  amount: z
    .int({ error: "must be an integer number of minor units" })
    .min(1, { error: "must be at least 1" })
    .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS}` })
    .meta({ description: "Minor units of from_currency to sell", example: 10000 }),
});
export const ExchangeBody = z.strictObject({
  quote_id: z
    .string({ error: "must be a quote id (a string of digits)" })
    .regex(/^[0-9]{1,19}$/, { error: "must be a quote id (a string of digits)" }),
  ...TagFields,
});
export const RateBody = z.strictObject({
  rate: z
    .string({ error: 'must be a decimal string, such as "0.9215"' })
    .meta({ description: "Major units of to bought by one major unit of from; > 0, at most 12 significant digits" }),
  reason: z
    .string()
    .min(1)
    .max(500, { error: "reason must be at most 500 characters" })
    .refine(isPrintableText, { error: `reason ${PRINTABLE_ERROR}` })
    .optional()
    .meta({ description: "Why (optional), for the audit log" }),
});

export const CurrencyBalanceResponse = z.object({
  currency: Code,
  balance: z.int(),
  available_balance: z.int().meta({ description: "balance plus credit_limit minus the amounts of active holds" }),
  credit_limit: z.int(),
  version: z.int().meta({ description: "grows with every change of this wallet: a write's expected_version" }),
});
export const BalancesResponse = z.object({ balances: z.array(CurrencyBalanceResponse) });
export const RatesResponse = z.object({
  rates: z.array(z.object({ from: Code, to: Code, rate: z.string(), updated_at: Instant })),
});
export const RateResponse = z.object({ from: Code, to: Code, rate: z.string(), updated_at: Instant });
export const QuoteResponse = z.object({
  quote_id: Id,
  from_currency: Code,
  to_currency: Code,
  amount: z.int(),
  converted_amount: z.int().meta({ description: "floor(amount x rate x 10^(digits of to - digits of from))" }),
  rate: z.string(),
  expires_at: Instant,
});
export const ExchangeResponse = z.object({
  exchange_id: Id,
  quote_id: Id,
  from_currency: Code,
  to_currency: Code,
  amount: z.int(),
  converted_amount: z.int(),
  rate: z.string(),
  balances: z.record(z.string(), z.int()).meta({ description: "both wallets' balances after it, by currency" }),
});
export const PositionsResponse = z.object({
  positions: z.array(z.object({ currency: Code, position: z.int() })),
});
