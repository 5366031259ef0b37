/**
 * Limits and credit lines: the user's GET /api/limits/v1 and the admin routes that
 * define tiers, assign them and grant credit lines (each audited).
 */
import type { z } from "zod";
import { WalletError } from "../core/errors.js";
import { assignUserTier, LIMIT_REFUSALS, listTiers, setTier, setUserCreditLimit, userLimits } from "../core/limits.js";
import { parsePositiveInt } from "../core/money.js";
import { currencyOf, outcomeReply, user, type RequestInfo, type Route } from "./routes.js";
import * as l from "./limitSchemas.js";
import * as s from "./schemas.js";

const admin = { auth: true, admin: true, rateLimited: false, tag: "admin" } as const;

function pathUser(r: RequestInfo): number {
  const id = parsePositiveInt(r.params.user_id!);
  if (id === undefined) throw new WalletError("wallet_not_found", `There is no wallet ${r.params.user_id}.`);
  return id;
}

export const limitRoutes: Route[] = [
  {
    ...user,
    method: "GET",
    path: "/api/limits/v1",
    operationId: "limits",
    summary: "Your tier, credit line and, per limit set, what is used and what remains (UTC days and months)",
    tag: "wallet",
    query: s.CurrencyQuery,
    currency: true,
    responses: { 200: { description: "Your limits in a currency (absent: the default)", schema: l.LimitsResponse } },
    handler: async (r, svc) => {
      const { currency } = r.query as z.infer<typeof s.CurrencyQuery>;
      return { status: 200, body: await userLimits(svc.ctx, r.userId, currencyOf(svc, currency)) };
    },
  },
];

export const limitAdminRoutes: Route[] = [
  {
    ...admin,
    method: "PUT",
    path: "/admin/v1/tiers/{name}",
    operationId: "adminSetTier",
    summary: "Define a tier: replaces its whole set of limits per currency (audited: tier_definition)",
    body: l.TierBody,
    responses: { 200: { description: "The tier as defined", schema: l.TierResponse } },
    refusals: ["currency_not_supported"],
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof l.TierBody>;
      const limits: typeof b.limits = {};
      for (const [code, set] of Object.entries(b.limits)) limits[currencyOf(svc, code, `limits.${code}`)] = set;
      return { status: 200, body: await setTier(svc.ctx, { name: r.params.name!, limits, actor: r.actor! }) };
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/tiers",
    operationId: "adminTiers",
    summary: "Every tier and its limits",
    query: s.EmptyQuery,
    responses: { 200: { description: "The tiers, by name", schema: l.TiersResponse } },
    handler: async (_r, svc) => ({ status: 200, body: await listTiers(svc.ctx) }),
  },
  {
    ...admin,
    method: "PUT",
    path: "/admin/v1/wallets/{user_id}/tier",
    operationId: "adminAssignTier",
    summary: "Put a user in a tier (audited: tier); unknown tier: 404 not_found",
    body: l.TierAssignBody,
    currency: true,
    responses: { 200: { description: "The wallet, with its tier and credit line", schema: l.LimitedInspectResponse } },
    refusals: LIMIT_REFUSALS.assignTier,
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof l.TierAssignBody>;
      const currency = currencyOf(svc, b.currency);
      const o = await assignUserTier(svc.ctx, {
        userId: pathUser(r),
        tier: b.tier,
        currency,
        actor: r.actor!,
        reason: b.reason,
      });
      return outcomeReply(svc, "tier", o, 200);
    },
  },
  {
    ...admin,
    method: "PUT",
    path: "/admin/v1/wallets/{user_id}/credit-limit",
    operationId: "adminCreditLimit",
    summary: "Set a wallet's credit line (0 removes it; audited: credit_limit)",
    body: l.CreditLimitBody,
    currency: true,
    responses: { 200: { description: "The wallet, with its tier and credit line", schema: l.LimitedInspectResponse } },
    refusals: LIMIT_REFUSALS.creditLimit,
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof l.CreditLimitBody>;
      const o = await setUserCreditLimit(svc.ctx, {
        userId: pathUser(r),
        creditLimit: b.credit_limit,
        currency: currencyOf(svc, b.currency),
        actor: r.actor!,
        reason: b.reason,
      });
      return outcomeReply(svc, "credit_limit", o, 200);
    },
  },
];
