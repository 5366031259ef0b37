/**
 * Exchange at an explicit rate: the operator sets rates, a user asks for a quote (the
 * rate and the converted amount, held for FX_QUOTE_TTL_S), then executes it once
 * through the money path (wallet_apply: the user's lock, both wallets and the
 * platform's position in one transaction).
 */
import type { CoreContext } from "./context.js";
import { minorDigits } from "./currency.js";
import { WalletError } from "./errors.js";
import { formatRate, parseRate } from "./fx/decimal.js";
import { run, type Tags } from "./operations.js";
import type { Idempotency, Outcome } from "./outcome.js";
import { OpKind } from "./store/ledger.js";
import { selectPositions, selectRates, upsertRate, type QuoteRow, type RateRow } from "./store/fx.js";

export type { QuoteRow, RateRow };

/** An exchange as wallet_op_exchange answers it: the quote it executed, and both balances after. */
export type ExchangeDone = Omit<QuoteRow, "expires_at"> & { exchange_id: string; balances: Record<string, number> };

/** Sets the rate of from -> to (audited, action fx_rate). rate: a decimal string > 0, at most 12 significant digits. */
export async function setRate(
  ctx: CoreContext,
  r: { from: string; to: string; rate: string; actor: string; reason?: string },
): Promise<RateRow> {
  if (r.from === r.to) throw new WalletError("invalid_request", "from and to must be two different currencies");
  const rate = parseRate(r.rate);
  if (!rate) {
    throw new WalletError(
      "invalid_request",
      "rate: must be a decimal string above 0 with at most 12 significant digits",
    );
  }
  return upsertRate(ctx.db, { ...r, id: await ctx.ids.take(), rate: formatRate(rate), reason: r.reason ?? null });
}

export async function listRates(ctx: CoreContext): Promise<{ rates: RateRow[] }> {
  return { rates: await selectRates(ctx.db) };
}

/**
 * A quote for amount minor units of from in to: converted_amount = floor(amount x rate
 * x 10^(digits of to - digits of from)), computed exactly by the database (numeric) at
 * the pair's rate now. Funds are not checked here. Through wallet_apply, like every
 * POST: its Idempotency-Key and its identity after a lost connection hold.
 */
export function createQuote(
  ctx: CoreContext,
  q: { userId: number; from: string; to: string; amount: number; ttlSeconds: number; idempotency?: Idempotency },
): Promise<Outcome<QuoteRow>> {
  if (q.from === q.to) throw new WalletError("invalid_request", "from_currency and to_currency must differ");
  return run(
    ctx,
    {
      kind: OpKind.Quote,
      userId: q.userId,
      currency: q.from,
      toCurrency: q.to,
      amount: q.amount,
      shift: minorDigits(q.to)! - minorDigits(q.from)!,
      expiresInSeconds: q.ttlSeconds,
    },
    q.idempotency,
  );
}

/** Executes the caller's quote: once, before it expires, judged like a withdrawal on the from wallet. */
export function exchange(
  ctx: CoreContext,
  e: { userId: number; quoteId: string; idempotency?: Idempotency; tags?: Tags },
): Promise<Outcome<ExchangeDone>> {
  return run(ctx, { kind: OpKind.Exchange, userId: e.userId, target: e.quoteId }, e.idempotency, e.tags);
}

export async function positions(
  ctx: CoreContext,
): Promise<{ positions: Array<{ currency: string; position: number }> }> {
  return { positions: await selectPositions(ctx.db) };
}
