/**
 * Limits and credit lines: the operator defines tiers (limits per currency), assigns
 * users to them and grants credit lines; a user reads where they stand. The limits
 * are judged in the money functions (wallet_record, under the user's lock); this
 * module only sets and reads them.
 */
import { pairsToChanges } from "./changes/feed.js";
import type { CoreContext } from "./context.js";
import type { ErrorCode } from "./errors.js";
import type { Outcome } from "./outcome.js";
import { toOutcome } from "./outcome.js";
import { WalletError } from "./errors.js";
import type { InspectView } from "./store/operator.js";
import {
  assignTier,
  defineTier,
  selectLimits,
  selectTiers,
  setCreditLimit,
  type CurrencyLimits,
  type LimitsView,
  type StepRow,
  type TierView,
} from "./store/limits.js";

export { LIMIT_NAMES, type CurrencyLimits, type LimitsView, type TierView } from "./store/limits.js";

/** A tier name: 1..40 of a-z 0-9 _ . - (starting with a letter or digit). */
export const TIER_NAME = /^[a-z0-9][a-z0-9_.-]{0,39}$/;

export type LimitedInspectView = InspectView & { tier: string; credit_limit: number };

export const LIMIT_REFUSALS = {
  assignTier: ["wallet_not_found", "not_found"],
  creditLimit: ["wallet_not_found"],
} as const satisfies Record<string, readonly ErrorCode[]>;

function stepOutcome<T>(row: StepRow): Outcome<T> {
  return toOutcome<T>(row.outcome ?? "ok", row.result, false);
}

/** Replaces a tier's whole set of limits (creating the tier), audited as tier_definition. */
export async function setTier(
  ctx: CoreContext,
  t: { name: string; limits: Record<string, CurrencyLimits>; actor: string },
): Promise<TierView> {
  if (!TIER_NAME.test(t.name)) {
    throw new WalletError("invalid_request", "tier: 1 to 40 of a-z, 0-9, _ . - (starting with a letter or digit)");
  }
  return defineTier(ctx.db, { ...t, id: await ctx.ids.take() });
}

export async function listTiers(ctx: CoreContext): Promise<{ tiers: TierView[] }> {
  return { tiers: await selectTiers(ctx.db) };
}

/** Puts a user in a tier (audited as tier); answers the wallet's inspect body in currency. */
export async function assignUserTier(
  ctx: CoreContext,
  a: { userId: number; tier: string; currency?: string; actor: string; reason: string },
): Promise<Outcome<LimitedInspectView>> {
  const currency = a.currency ?? ctx.currencies.defaultCurrency;
  return stepOutcome(await assignTier(ctx.db, { ...a, currency, id: await ctx.ids.take() }));
}

/** Sets a wallet's credit line (0 removes it), audited as credit_limit; answers the inspect body. */
export async function setUserCreditLimit(
  ctx: CoreContext,
  c: { userId: number; creditLimit: number; currency?: string; actor: string; reason: string },
): Promise<Outcome<LimitedInspectView>> {
  const currency = c.currency ?? ctx.currencies.defaultCurrency;
  const row = await setCreditLimit(ctx.db, { ...c, currency, id: await ctx.ids.take() });
  // the available balance changed: this process's caches learn it before the answer (read-your-writes)
  if (row.changes?.length) await ctx.feed?.publish(pairsToChanges(row.changes.map(Number)), 0);
  return stepOutcome(row);
}

/** Where a user stands: tier, credit line, and per limit set its use now (UTC day and month). */
export async function userLimits(ctx: CoreContext, userId: number, currency?: string): Promise<LimitsView> {
  const view = await selectLimits(ctx.db, userId, currency ?? ctx.currencies.defaultCurrency);
  if (!view) throw new WalletError("wallet_not_found", `There is no wallet ${userId}.`);
  return view;
}
