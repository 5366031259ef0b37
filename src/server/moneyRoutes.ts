/** The money and wallet routes of the user API. */
import type { z } from "zod";
import { acceptTransfer, deposit, REFUSALS, transfer, withdraw } from "../core/operations.js";
import { getEvents } from "../core/events/pages.js";
import { balanceAtInstant, statement, STATEMENT_MAX_DAYS } from "../core/operator.js";
import { getTransfer, publicView } from "../core/transfers.js";
import { currencyOf, moneyRoute, user, type Route } from "./routes.js";
import type { Services } from "./services.js";
import * as s from "./schemas.js";
import { tagsOf } from "./tagSchemas.js";

const transferOf = (svc: Services, b: z.infer<typeof s.TransferBody>) => ({
  toUserId: b.destination_user_id,
  amount: b.amount,
  currency: currencyOf(svc, b.currency),
  tags: tagsOf(b),
});

export const moneyRoutes: Route[] = [
  moneyRoute({
    path: "/api/deposit/v1",
    operationId: "deposit",
    summary: "Deposit cents into your wallet",
    body: s.AmountBody,
    currency: true,
    response: { description: "Deposited", schema: s.BalanceChangeResponse },
    refusals: REFUSALS.deposit,
    run: (svc, r) =>
      deposit(svc.ctx, {
        userId: r.userId,
        amount: r.body.amount,
        currency: currencyOf(svc, r.body.currency),
        idempotency: r.idempotency,
        tags: tagsOf(r.body),
      }),
  }),
  moneyRoute({
    path: "/api/withdraw/v1",
    operationId: "withdraw",
    summary: "Withdraw cents from your wallet",
    body: s.AmountBody,
    currency: true,
    response: { description: "Withdrawn", schema: s.BalanceChangeResponse },
    refusals: REFUSALS.withdraw,
    run: (svc, r) =>
      withdraw(svc.ctx, {
        userId: r.userId,
        amount: r.body.amount,
        currency: currencyOf(svc, r.body.currency),
        idempotency: r.idempotency,
        tags: tagsOf(r.body),
      }),
  }),
  moneyRoute({
    path: "/api/transfer/v1",
    operationId: "transfer",
    summary: "Transfer cents to another wallet, synchronously",
    body: s.TransferBody,
    currency: true,
    response: { description: "Transferred", schema: s.TransferResponse },
    refusals: REFUSALS.transfer,
    run: (svc, r) => transfer(svc.ctx, { userId: r.userId, ...transferOf(svc, r.body), idempotency: r.idempotency }),
  }),
  moneyRoute({
    path: "/api/transfer/v2",
    operationId: "transferAsync",
    summary: "Transfer cents to another wallet, asynchronously (durable once accepted)",
    body: s.TransferBody,
    currency: true,
    status: 202,
    response: { description: "Accepted: recorded durably, applied by a worker", schema: s.TransferAcceptedResponse },
    refusals: REFUSALS.acceptTransfer,
    run: (svc, r) =>
      acceptTransfer(svc.ctx, { userId: r.userId, ...transferOf(svc, r.body), idempotency: r.idempotency }),
  }),
  {
    ...user,
    method: "GET",
    path: "/api/transfer/v2/{transfer_id}",
    operationId: "getTransfer",
    summary: "The status of a transfer (sender or receiver only)",
    tag: "money",
    query: s.EmptyQuery,
    responses: { 200: { description: "The transfer", schema: s.TransferStatusResponse } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const t = await getTransfer(svc.ctx, { transferId: r.params.transfer_id!, viewerUserId: r.userId });
      return { status: 200, body: publicView(t) };
    },
  },
  {
    ...user,
    method: "GET",
    path: "/api/wallet/balance/v1",
    operationId: "balance",
    opensWallet: true,
    summary: "Your balance and available balance (the balance minus active holds), in cents; ?at= a past instant",
    tag: "wallet",
    query: s.BalanceQuery,
    currency: true,
    responses: {
      200: {
        description: "The balances; with at, as they were then (and the instant, as at)",
        schema: s.BalanceOrPastResponse,
      },
    },
    handler: async (r, svc) => {
      const { at, currency: given } = r.query as z.infer<typeof s.BalanceQuery>;
      const currency = currencyOf(svc, given);
      return {
        status: 200,
        body: at
          ? await balanceAtInstant(svc.ctx, r.userId, at, currency)
          : await svc.reads.balance(r.userId, currency),
      };
    },
  },
  {
    ...user,
    method: "GET",
    path: "/api/events/v1",
    operationId: "events",
    summary: "Your wallet's events after a sequence, oldest first; with wait, a long poll for the next",
    tag: "wallet",
    query: s.EventsQuery,
    responses: { 200: { description: "A page of events", schema: s.EventsResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.EventsQuery>;
      const page = await getEvents(
        svc.ctx,
        { userId: r.userId, after: q.after, limit: q.limit, waitMs: q.wait * 1000 },
        svc.eventWaiters,
      );
      return { status: 200, body: page };
    },
  },
  {
    ...user,
    method: "GET",
    path: "/api/statements/v1",
    operationId: "statement",
    summary: "Your statement for [from, to): opening and closing balances, totals in and out, the entries",
    description: `from must be before to, and the range may cover at most ${STATEMENT_MAX_DAYS} days: a longer one is refused (400 invalid_request).`,
    tag: "wallet",
    query: s.StatementQuery,
    currency: true,
    responses: { 200: { description: "The statement (opening + in - out = closing)", schema: s.StatementResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.StatementQuery>;
      const currency = currencyOf(svc, q.currency);
      return { status: 200, body: await statement(svc.ctx, { userId: r.userId, currency, from: q.from, to: q.to }) };
    },
  },
  {
    ...user,
    method: "GET",
    path: "/api/transactions/v1",
    operationId: "history",
    summary: "Your ledger entries, newest first; page by cursor (next_cursor) or by page number",
    description:
      "Two ways to page. By cursor: pass the previous answer's `next_cursor` as `cursor` (absent on the " +
      "first call); every entry comes exactly once, in order, even while new entries are written, and a " +
      "deep page costs what the first does. `next_cursor` is null on the last page. By page number " +
      "(`page`, from 1): pages are counted from the newest entry, so they shift when new entries arrive " +
      "and deep pages cost more. Every answer carries `next_cursor`, so a client can switch to cursors at " +
      "any page. `cursor` with `page` above 1, or a cursor that no page returned, is a 400 `invalid_request`.",
    tag: "wallet",
    query: s.HistoryQuery,
    currency: true,
    responses: { 200: { description: "A page of entries", schema: s.HistoryResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.HistoryQuery>;
      return {
        status: 200,
        json: await svc.reads.historyJson({
          userId: r.userId,
          // a reference is looked up in every currency unless one is named
          currency: q.reference !== undefined && q.currency === undefined ? undefined : currencyOf(svc, q.currency),
          reference: q.reference,
          type: q.type,
          page: q.page,
          pageSize: q.page_size,
          cursor: q.cursor,
        }),
      };
    },
  },
];
