/**
 * The route table: each route's method, path, schemas (which validate requests and
 * describe them in the OpenAPI document), the refusals it may answer, and its
 * handler. Handlers parse nothing and format little: they call one use case and
 * turn its outcome into a reply.
 */
import type { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../core/errors.js";
import type { Idempotency, Outcome } from "../core/outcome.js";
import { acceptTransfer, deposit, REFUSALS, transfer, withdraw } from "../core/operations.js";
import { getTransfer, publicView } from "../core/transfers.js";
import * as s from "./schemas.js";
import type { Services } from "./services.js";

export type RequestInfo = {
  userId: number;
  body: Record<string, unknown>;
  query: Record<string, unknown>;
  params: Record<string, string>;
  idempotency?: Idempotency;
};

export type Reply = {
  status: number;
  /** a value to serialise, or JSON text already made */
  body?: unknown;
  json?: string;
  text?: string;
  contentType?: string;
  headers?: Record<string, string>;
};

export type Route = {
  method: "GET" | "POST";
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  auth: boolean;
  rateLimited: boolean;
  /** its own SQL opens the caller's wallet (wallet_apply, reading the balance) */
  opensWallet?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  /** success (and other non-error) responses */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** the error codes this route may answer beyond those every route may (see routeRefusals) */
  refusals?: readonly ErrorCode[];
  handler(req: RequestInfo, svc: Services): Promise<Reply>;
};

/** Every error code a route may answer: its own, those of every authenticated or POST route, and the rest. */
export function routeRefusals(r: Route): ErrorCode[] {
  if (!r.auth && !r.body && !r.query && !r.refusals) return []; // operations routes: documented as they are
  const codes: ErrorCode[] = ["invalid_request", "internal", "unavailable"];
  if (r.auth) codes.push("unauthorized", "rate_limited");
  if (r.body) codes.push("payload_too_large", "idempotency_key_reused", "idempotency_key_in_progress");
  return [...new Set([...codes, ...(r.refusals ?? [])])];
}

/** Turns a use case's outcome into a reply. */
function outcomeReply<T>(svc: Services, kind: string, outcome: Outcome<T>, successStatus: number): Reply {
  svc.metrics.operations.inc({ kind, outcome: outcome.ok ? "ok" : outcome.code });
  const headers: Record<string, string> = {};
  if (outcome.replayed) {
    headers["Idempotent-Replayed"] = "true";
    svc.metrics.idempotentReplays.inc();
  }
  if (outcome.ok) return { status: successStatus, body: outcome.value, headers };
  const e = ERROR_CODES[outcome.code];
  return { status: e.status, body: { error: { code: outcome.code, message: e.message } }, headers };
}

const user = { auth: true, rateLimited: true } as const;

/** A POST that moves money: validate the body, run one operation, answer its outcome. */
function moneyRoute<B extends z.ZodType, T>(o: {
  path: string;
  operationId: string;
  summary: string;
  body: B;
  status?: number;
  response: { description: string; schema: z.ZodType };
  refusals: readonly ErrorCode[];
  run(svc: Services, userId: number, body: z.infer<B>, idempotency?: Idempotency): Promise<Outcome<T>>;
}): Route {
  const status = o.status ?? 200;
  return {
    ...user,
    method: "POST",
    path: o.path,
    operationId: o.operationId,
    opensWallet: true,
    summary: o.summary,
    tag: "money",
    body: o.body,
    responses: { [status]: o.response },
    refusals: o.refusals,
    handler: async (r, svc) =>
      outcomeReply(svc, o.operationId, await o.run(svc, r.userId, r.body as z.infer<B>, r.idempotency), status),
  };
}

export const routes: Route[] = [
  moneyRoute({
    path: "/api/deposit/v1",
    operationId: "deposit",
    summary: "Deposit cents into your wallet",
    body: s.AmountBody,
    response: { description: "Deposited", schema: s.BalanceChangeResponse },
    refusals: REFUSALS.deposit,
    run: (svc, userId, b, idempotency) => deposit(svc.ctx, { userId, amount: b.amount, idempotency }),
  }),
  moneyRoute({
    path: "/api/withdraw/v1",
    operationId: "withdraw",
    summary: "Withdraw cents from your wallet",
    body: s.AmountBody,
    response: { description: "Withdrawn", schema: s.BalanceChangeResponse },
    refusals: REFUSALS.withdraw,
    run: (svc, userId, b, idempotency) => withdraw(svc.ctx, { userId, amount: b.amount, idempotency }),
  }),
  moneyRoute({
    path: "/api/transfer/v1",
    operationId: "transfer",
    summary: "Transfer cents to another wallet, synchronously",
    body: s.TransferBody,
    response: { description: "Transferred", schema: s.TransferResponse },
    refusals: REFUSALS.transfer,
    run: (svc, userId, b, idempotency) =>
      transfer(svc.ctx, { userId, toUserId: b.destination_user_id, amount: b.amount, idempotency }),
  }),
  moneyRoute({
    path: "/api/transfer/v2",
    operationId: "transferAsync",
    summary: "Transfer cents to another wallet, asynchronously (durable once accepted)",
    body: s.TransferBody,
    status: 202,
    response: { description: "Accepted: recorded durably, applied by a worker", schema: s.TransferAcceptedResponse },
    refusals: REFUSALS.acceptTransfer,
    run: (svc, userId, b, idempotency) =>
      acceptTransfer(svc.ctx, { userId, toUserId: b.destination_user_id, amount: b.amount, idempotency }),
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
    summary: "Your balance in cents",
    tag: "wallet",
    query: s.EmptyQuery,
    responses: { 200: { description: "The balance", schema: s.BalanceResponse } },
    handler: async (r, svc) => ({ status: 200, body: { balance: await svc.reads.balance(r.userId) } }),
  },
  {
    ...user,
    method: "GET",
    path: "/api/transactions/v1",
    operationId: "history",
    summary: "Your ledger entries, newest first",
    tag: "wallet",
    query: s.HistoryQuery,
    responses: { 200: { description: "A page of entries", schema: s.HistoryResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.HistoryQuery>;
      return {
        status: 200,
        json: await svc.reads.historyJson({ userId: r.userId, type: q.type, page: q.page, pageSize: q.page_size }),
      };
    },
  },
];
