/**
 * ListBalances, ListRates, CreateQuote and Exchange: the currency and exchange routes'
 * handlers over gRPC. A quote and an exchange hash the JSON body their HTTP route
 * would have ({from_currency, to_currency, amount}; {quote_id}) under that route's
 * operation, so an Idempotency-Key is one key whichever protocol carries it.
 */
import type * as grpc from "@grpc/grpc-js";
import { z } from "zod";
import { WalletError } from "../../core/errors.js";
import { createQuote, exchange, listRates } from "../../core/fx.js";
import { isId } from "../../core/ids.js";
import { MAX_CENTS } from "../../core/money.js";
import { ExchangeBody } from "../fxSchemas.js";
import type { Services } from "../services.js";
import { tagsOf } from "../tagSchemas.js";
import { tagFields } from "./money.js";
import { idempotencyFrom, parse, settle, type CallInfo, type Message, type Pipeline, type Req } from "./pipeline.js";

const QuoteAmount = z.strictObject({
  amount: z
    .int({ error: "must be an integer number of minor units" })
    .min(1, { error: "must be at least 1" })
    .max(MAX_CENTS, { error: `must be at most ${MAX_CENTS}` }),
});
const QUOTE_ID = /^[0-9]{1,19}$/;

/** A currency a quote must name: "" is absent, and absent is refused (no default here). */
function required(svc: Services, req: Req, field: "from_currency" | "to_currency"): string {
  const v = req[field];
  if (typeof v !== "string" || v === "") {
    throw new WalletError("invalid_request", `${field}: is required (an ISO 4217 currency code, such as EUR)`);
  }
  return svc.ctx.currencies.resolve(v, field);
}

async function quote(svc: Services, req: Req, info: CallInfo): Promise<Message> {
  const { amount } = parse(QuoteAmount, { amount: req.amount });
  const from = required(svc, req, "from_currency");
  const to = required(svc, req, "to_currency");
  const body = { from_currency: from, to_currency: to, amount };
  const idempotency = idempotencyFrom(info, "POST /api/fx/quotes/v1", body);
  const outcome = await createQuote(svc.ctx, {
    userId: info.userId,
    from,
    to,
    amount,
    ttlSeconds: svc.config.fxQuoteTtlS,
    idempotency,
  });
  return settle(svc, "createQuote", outcome, info);
}

async function exchangeQuote(svc: Services, req: Req, info: CallInfo): Promise<Message> {
  const quoteId = typeof req.quote_id === "string" ? req.quote_id : "";
  if (!QUOTE_ID.test(quoteId))
    throw new WalletError("invalid_request", "quote_id: must be a quote id (a string of digits)");
  const body = parse(ExchangeBody, { quote_id: quoteId, ...tagFields(req) });
  const idempotency = idempotencyFrom(info, "POST /api/fx/exchanges/v1", body);
  // digits beyond a 64-bit id name no quote, as an unknown one
  if (!isId(quoteId)) throw new WalletError("not_found", "No such quote.");
  const tags = tagsOf(body);
  return settle(svc, "exchange", await exchange(svc.ctx, { userId: info.userId, quoteId, idempotency, tags }), info);
}

export function fxHandlers(p: Pipeline, svc: Services): grpc.UntypedServiceImplementation {
  const opens = { opensWallet: true } as const;
  return {
    ListBalances: p.unary("ListBalances", { operationId: "balances", ...opens }, async (_req, info) =>
      svc.reads.balances(info.userId),
    ),
    ListRates: p.unary("ListRates", { operationId: "fxRates" }, async () => listRates(svc.ctx)),
    CreateQuote: p.unary("CreateQuote", { operationId: "createQuote", ...opens }, (req, info) => quote(svc, req, info)),
    Exchange: p.unary("Exchange", { operationId: "exchange", ...opens }, (req, info) => exchangeQuote(svc, req, info)),
  };
}
