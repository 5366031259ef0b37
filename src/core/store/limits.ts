/**
 * Tiers, tier assignments, credit lines and a user's limits: each one call of a
 * PL/pgSQL function (migrations/010_limits.sql) that writes its audit entry in the
 * same transaction. The limits themselves are judged inside the money functions.
 */
import type { Executor } from "../db/index.js";

/** A limit's fields as the API names them; absent: no limit. */
export const LIMIT_NAMES = [
  "max_debit",
  "daily_debit_amount",
  "daily_debit_count",
  "monthly_debit_amount",
  "max_balance",
] as const;
export type LimitName = (typeof LIMIT_NAMES)[number];
export type CurrencyLimits = Partial<Record<LimitName, number>>;
export type TierView = { name: string; limits: Record<string, CurrencyLimits> };

export type LimitUse = { name: LimitName; limit: number; used: number; remaining: number; resets_at: string | null };
export type LimitsView = { tier: string; currency: string; credit_limit: number; limits: LimitUse[] };

/** A step's outcome and result as wallet_assign_tier and wallet_set_credit_limit return them; changes: user, version pairs. */
export type StepRow = { outcome: string | null; result: Record<string, unknown> | null; changes?: number[] | null };

export async function defineTier(
  db: Executor,
  t: { id: string; name: string; limits: Record<string, CurrencyLimits>; actor: string },
): Promise<TierView> {
  const [row] = await db.query<{ t: TierView }>("select wallet_define_tier($1, $2, $3::jsonb, $4) as t", [
    t.id,
    t.name,
    JSON.stringify(t.limits),
    t.actor,
  ]);
  return row!.t;
}

export function selectTiers(db: Executor): Promise<TierView[]> {
  return db.query<TierView>("select name, wallet_tier_json(name) as limits from tiers order by name");
}

export async function assignTier(
  db: Executor,
  a: { id: string; userId: number; tier: string; currency: string; actor: string; reason: string },
): Promise<StepRow> {
  const [row] = await db.query<StepRow>("select outcome, result from wallet_assign_tier($1, $2, $3, $4, $5, $6)", [
    a.id,
    a.userId,
    a.tier,
    a.currency,
    a.actor,
    a.reason,
  ]);
  return row!;
}

export async function setCreditLimit(
  db: Executor,
  c: { id: string; userId: number; currency: string; creditLimit: number; actor: string; reason: string },
): Promise<StepRow> {
  const [row] = await db.query<StepRow>(
    `select outcome, result, array(select x from unnest(rows) r, lateral (values (r.user_id), (r.seq)) v(x)) as changes
       from wallet_set_credit_limit($1, $2, $3, $4, $5, $6)`,
    [c.id, c.userId, c.currency, c.creditLimit, c.actor, c.reason],
  );
  return row!;
}

/** The user's tier, credit line and the use of each limit set (undefined: no such user). */
export async function selectLimits(db: Executor, userId: number, currency: string): Promise<LimitsView | undefined> {
  const [row] = await db.query<{ l: LimitsView | null }>("select wallet_limits_json($1, $2) as l", [userId, currency]);
  return row?.l ?? undefined;
}
