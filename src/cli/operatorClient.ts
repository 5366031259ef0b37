/**
 * The operator's commands (inspect, freeze, unfreeze, reverse, adjust, audit), with
 * two implementations like WalletClient: the admin API (--api, with
 * WALLET_ADMIN_TOKEN and X-Actor) and direct on the database.
 */
import os from "node:os";
import { isPrintableText, PRINTABLE_ERROR } from "../core/freeText.js";
import { UsageError } from "./errors.js";
import type { Core } from "../core/index.js";
import {
  adjust,
  auditLog,
  freeze,
  inspect,
  reverse,
  unfreeze,
  type AdjustmentView,
  type AuditPage,
  type InspectView,
  type ReversalView,
} from "../core/operator.js";
import { unwrap } from "../core/outcome.js";
import { positions, setRate, type RateRow } from "../core/fx.js";
import {
  assignUserTier,
  listTiers,
  setTier,
  setUserCreditLimit,
  type CurrencyLimits,
  type LimitedInspectView,
  type TierView,
} from "../core/limits.js";
import { ConnectionError } from "./errors.js";
import { createTransport } from "./http.js";
import { tagBody } from "./tags.js";
import type { Tags } from "../core/operations.js";

export interface OperatorClient {
  /** currency: the wallet's (absent: DEFAULT_CURRENCY) */
  inspect(userId: number, currency?: string): Promise<InspectView>;
  freeze(userId: number, reason: string): Promise<InspectView>;
  unfreeze(userId: number, reason: string): Promise<InspectView>;
  reverse(targetId: string, reason: string, amount?: number, tags?: Tags): Promise<ReversalView>;
  adjust(userId: number, amount: number, reason: string, currency?: string, tags?: Tags): Promise<AdjustmentView>;
  audit(after: string | null, limit: number): Promise<AuditPage>;
  /** sets the rate of from -> to (a decimal string), audited as fx_rate */
  setRate(from: string, to: string, rate: string, reason?: string): Promise<RateRow>;
  /** the platform's position in each currency it has exchanged */
  positions(): Promise<{ positions: Array<{ currency: string; position: number }> }>;
  /** replaces a tier's whole set of limits (audited: tier_definition) */
  defineTier(name: string, limits: Record<string, CurrencyLimits>): Promise<TierView>;
  tiers(): Promise<{ tiers: TierView[] }>;
  /** puts a user in a tier (audited: tier) */
  assignTier(userId: number, tier: string, reason: string, currency?: string): Promise<LimitedInspectView>;
  /** sets a wallet's credit line, 0 removing it (audited: credit_limit) */
  creditLimit(userId: number, limit: number, reason: string, currency?: string): Promise<LimitedInspectView>;
  close(): Promise<void>;
}

/** Who acts: --actor, else the operating system's user name. */
export function actorName(given?: string): string {
  const name = given?.trim() || os.userInfo().username || "operator";
  if (!isPrintableText(name)) throw new UsageError(`--actor ${PRINTABLE_ERROR}`);
  return name;
}

export function createDirectOperator(core: Core, actor: string): OperatorClient {
  const ctx = core.ctx;
  return {
    inspect: (userId, currency) => inspect(ctx, userId, ctx.currencies.resolve(currency)),
    freeze: async (userId, reason) => unwrap(await freeze(ctx, { userId, actor, reason })),
    unfreeze: async (userId, reason) => unwrap(await unfreeze(ctx, { userId, actor, reason })),
    reverse: async (targetId, reason, amount, tags) =>
      unwrap(await reverse(ctx, { targetId, amount, actor, reason, tags })),
    adjust: async (userId, amount, reason, currency, tags) =>
      unwrap(await adjust(ctx, { userId, amount, currency: ctx.currencies.resolve(currency), actor, reason, tags })),
    audit: (after, limit) => auditLog(ctx, after, limit),
    setRate: (from, to, rate, reason) =>
      setRate(ctx, {
        from: ctx.currencies.resolve(from, "from"),
        to: ctx.currencies.resolve(to, "to"),
        rate,
        actor,
        reason,
      }),
    positions: () => positions(ctx),
    defineTier: (name, limits) => setTier(ctx, { name, limits, actor }),
    tiers: () => listTiers(ctx),
    assignTier: async (userId, tier, reason, currency) =>
      unwrap(await assignUserTier(ctx, { userId, tier, reason, actor, currency: ctx.currencies.resolve(currency) })),
    creditLimit: async (userId, creditLimit, reason, currency) =>
      unwrap(
        await setUserCreditLimit(ctx, {
          userId,
          creditLimit,
          reason,
          actor,
          currency: ctx.currencies.resolve(currency),
        }),
      ),
    close: () => core.close(),
  };
}

export function createHttpOperator(baseUrl: string, token: string | undefined, actor: string): OperatorClient {
  if (!token) throw new ConnectionError("--api needs WALLET_ADMIN_TOKEN (the server's ADMIN_TOKEN) for admin commands");
  const t = createTransport(baseUrl);
  const headers = { authorization: `Bearer ${token}`, "x-actor": actor };
  return {
    inspect: (userId, currency) =>
      t.call("GET", `/admin/v1/wallets/${userId}${currency ? `?currency=${currency}` : ""}`, headers),
    freeze: (userId, reason) => t.call("POST", `/admin/v1/wallets/${userId}/freeze`, headers, { reason }),
    unfreeze: (userId, reason) => t.call("POST", `/admin/v1/wallets/${userId}/unfreeze`, headers, { reason }),
    // the server looks both up the same way: by id
    reverse: (targetId, reason, amount, tags) =>
      t.call("POST", "/admin/v1/reversals", headers, {
        transaction_id: targetId,
        reason,
        ...(amount ? { amount } : {}),
        ...tagBody(tags),
      }),
    adjust: (userId, amount, reason, currency, tags) =>
      t.call("POST", "/admin/v1/adjustments", headers, {
        user_id: userId,
        amount,
        reason,
        ...(currency ? { currency } : {}),
        ...tagBody(tags),
      }),
    audit: (after, limit) => t.call("GET", `/admin/v1/audit?limit=${limit}${after ? `&after=${after}` : ""}`, headers),
    setRate: (from, to, rate, reason) =>
      t.call("PUT", `/admin/v1/fx/rates/${from}/${to}`, headers, { rate, ...(reason ? { reason } : {}) }),
    positions: () => t.call("GET", "/admin/v1/fx/positions", headers),
    defineTier: (name, limits) => t.call("PUT", `/admin/v1/tiers/${encodeURIComponent(name)}`, headers, { limits }),
    tiers: () => t.call("GET", "/admin/v1/tiers", headers),
    assignTier: (userId, tier, reason, currency) =>
      t.call("PUT", `/admin/v1/wallets/${userId}/tier`, headers, { tier, reason, ...(currency ? { currency } : {}) }),
    creditLimit: (userId, limit, reason, currency) =>
      t.call("PUT", `/admin/v1/wallets/${userId}/credit-limit`, headers, {
        credit_limit: limit,
        reason,
        ...(currency ? { currency } : {}),
      }),
    close: () => t.close(),
  };
}
