/**
 * The admin API under /admin/v1, served only when ADMIN_TOKEN is set: an operator's
 * actions (freeze, unfreeze, reversals, adjustments) and reads (a wallet, the audit
 * log). Every request carries the admin token and X-Actor, recorded as the actor.
 */
import type { z } from "zod";
import { WalletError } from "../core/errors.js";
import { adjust, auditLog, freeze, inspect, OPERATOR_REFUSALS, reverse, unfreeze } from "../core/operator.js";
import { parsePositiveInt } from "../core/money.js";
import { currencyOf, outcomeReply, type RequestInfo, type Route } from "./routes.js";
import * as s from "./schemas.js";
import { tagsOf } from "./tagSchemas.js";

const admin = { auth: true, admin: true, rateLimited: false, tag: "admin" } as const;

/** A user id in the path that cannot be one is a wallet that does not exist. */
function pathUser(r: RequestInfo): number {
  const id = parsePositiveInt(r.params.user_id!);
  if (id === undefined) throw new WalletError("wallet_not_found", `There is no wallet ${r.params.user_id}.`);
  return id;
}

const acting = (r: RequestInfo, reason: string) => ({ actor: r.actor!, reason, idempotency: r.idempotency });

export const adminRoutes: Route[] = [
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/wallets/{user_id}",
    operationId: "adminInspect",
    summary: "A wallet as an operator sees it: balances, freeze, active holds, pending transfers",
    query: s.CurrencyQuery,
    currency: true,
    responses: { 200: { description: "The wallet in a currency (absent: the default)", schema: s.InspectResponse } },
    refusals: ["wallet_not_found"],
    handler: async (r, svc) => {
      const { currency } = r.query as z.infer<typeof s.CurrencyQuery>;
      return { status: 200, body: await inspect(svc.ctx, pathUser(r), currencyOf(svc, currency)) };
    },
  },
  ...(["freeze", "unfreeze"] as const).map((action): Route => ({
    ...admin,
    method: "POST",
    path: `/admin/v1/wallets/{user_id}/${action}`,
    operationId: action === "freeze" ? "adminFreeze" : "adminUnfreeze",
    summary:
      action === "freeze"
        ? "Freeze a wallet: every debit is refused (wallet_frozen); credits still arrive"
        : "Unfreeze a wallet",
    body: s.ReasonBody,
    responses: { 200: { description: "The wallet after it (already so: unchanged)", schema: s.InspectResponse } },
    refusals: OPERATOR_REFUSALS.freeze,
    handler: async (r, svc) => {
      const { reason } = r.body as z.infer<typeof s.ReasonBody>;
      const run = action === "freeze" ? freeze : unfreeze;
      return outcomeReply(svc, action, await run(svc.ctx, { userId: pathUser(r), ...acting(r, reason) }), 200);
    },
  })),
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/reversals",
    operationId: "adminReverse",
    summary: "Reverse a completed deposit, withdrawal or transfer, whole or in part",
    body: s.ReversalBody,
    responses: { 200: { description: "Reversed", schema: s.ReversalResponse } },
    refusals: OPERATOR_REFUSALS.reverse,
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof s.ReversalBody>;
      const targetId = (b.transaction_id ?? b.transfer_id)!;
      const tags = tagsOf(b);
      const o = await reverse(svc.ctx, { targetId, amount: b.amount, ...acting(r, b.reason), tags });
      return outcomeReply(svc, "reversal", o, 200);
    },
  },
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/adjustments",
    operationId: "adminAdjust",
    summary: "Credit or debit a wallet with a reason",
    body: s.AdjustmentBody,
    currency: true,
    responses: { 200: { description: "Adjusted", schema: s.AdjustmentResponse } },
    refusals: OPERATOR_REFUSALS.adjust,
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof s.AdjustmentBody>;
      const currency = currencyOf(svc, b.currency);
      const tags = tagsOf(b);
      const o = await adjust(svc.ctx, { userId: b.user_id, amount: b.amount, currency, ...acting(r, b.reason), tags });
      return outcomeReply(svc, "adjustment", o, 200);
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/audit",
    operationId: "adminAudit",
    summary: "The audit log, oldest first: pass next_after as after for the next page",
    query: s.AuditQuery,
    responses: { 200: { description: "A page of the audit log", schema: s.AuditResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.AuditQuery>;
      return { status: 200, body: await auditLog(svc.ctx, q.after ?? null, q.limit) };
    },
  },
];
