/**
 * Currencies and exchange: a user's balances in every currency, the rates, quotes and
 * exchanges (user API), and the operator's rates and positions (admin API, only with
 * ADMIN_TOKEN).
 */
import type { z } from "zod";
import { createQuote, exchange, listRates, positions, setRate } from "../core/fx.js";
import { isId } from "../core/ids.js";
import { REFUSALS } from "../core/operations.js";
import { currencyOf, moneyRoute, user, type Route } from "./routes.js";
import * as s from "./schemas.js";
import { tagsOf } from "./tagSchemas.js";

export const fxRoutes: Route[] = [
  {
    ...user,
    method: "GET",
    path: "/api/wallet/balances/v1",
    operationId: "balances",
    opensWallet: true,
    summary: "Your balances in every currency you have a wallet in, sorted by code (the default currency always)",
    tag: "wallet",
    query: s.EmptyQuery,
    responses: { 200: { description: "One entry per currency", schema: s.BalancesResponse } },
    handler: async (r, svc) => ({ status: 200, body: await svc.reads.balances(r.userId) }),
  },
  {
    ...user,
    method: "GET",
    path: "/api/fx/rates/v1",
    operationId: "fxRates",
    summary: "The exchange rates the operator has set",
    tag: "fx",
    query: s.EmptyQuery,
    responses: { 200: { description: "Every rate, by pair", schema: s.RatesResponse } },
    handler: async (_r, svc) => ({ status: 200, body: await listRates(svc.ctx) }),
  },
  {
    ...moneyRoute({
      path: "/api/fx/quotes/v1",
      operationId: "createQuote",
      tag: "fx",
      summary: "A quote: what an amount of one currency buys of another at the rate now, held for FX_QUOTE_TTL_S",
      body: s.QuoteBody,
      status: 201,
      response: { description: "The quote (funds are not checked until it is executed)", schema: s.QuoteResponse },
      refusals: REFUSALS.createQuote,
      run: (svc, r) =>
        createQuote(svc.ctx, {
          userId: r.userId,
          from: currencyOf(svc, r.body.from_currency),
          to: currencyOf(svc, r.body.to_currency),
          amount: r.body.amount,
          ttlSeconds: svc.config.fxQuoteTtlS,
          idempotency: r.idempotency,
        }),
    }),
    currency: true,
  },
  moneyRoute({
    path: "/api/fx/exchanges/v1",
    operationId: "exchange",
    tag: "fx",
    summary: "Execute your quote: its amount leaves your from wallet, the converted amount arrives in your to wallet",
    body: s.ExchangeBody,
    response: { description: "Exchanged, with both wallets' balances after it", schema: s.ExchangeResponse },
    refusals: REFUSALS.exchange,
    run: async (svc, r) =>
      // digits beyond a 64-bit id name no quote, as an unknown one
      isId(r.body.quote_id)
        ? exchange(svc.ctx, {
            userId: r.userId,
            quoteId: r.body.quote_id,
            idempotency: r.idempotency,
            tags: tagsOf(r.body),
          })
        : { ok: false, code: "not_found", replayed: false },
  }),
];

const admin = { auth: true, admin: true, rateLimited: false, tag: "admin" } as const;

export const fxAdminRoutes: Route[] = [
  {
    ...admin,
    method: "PUT",
    path: "/admin/v1/fx/rates/{from}/{to}",
    operationId: "adminSetRate",
    summary: "Set the rate of a pair: one major unit of from buys rate major units of to (audited: fx_rate)",
    body: s.RateBody,
    currency: true,
    responses: { 200: { description: "The rate as set", schema: s.RateResponse } },
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof s.RateBody>;
      const from = currencyOf(svc, r.params.from, "from");
      const to = currencyOf(svc, r.params.to, "to");
      return {
        status: 200,
        body: await setRate(svc.ctx, { from, to, rate: b.rate, reason: b.reason, actor: r.actor! }),
      };
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/fx/positions",
    operationId: "adminPositions",
    summary: "The platform's position in each currency: the other side of every exchange",
    query: s.EmptyQuery,
    responses: { 200: { description: "Positions by currency", schema: s.PositionsResponse } },
    handler: async (_r, svc) => ({ status: 200, body: await positions(svc.ctx) }),
  },
];
