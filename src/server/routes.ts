/**
 * The route table: each route's method, path, schemas (which validate requests and
 * describe them in the OpenAPI document) and handler. Handlers parse nothing and
 * format little: they call one use case and turn its outcome into a reply.
 */
import type { z } from "zod";
import { acceptTransfer } from "../core/acceptTransfer.js";
import { deposit } from "../core/deposit.js";
import { ERROR_CODES } from "../core/errors.js";
import type { Outcome } from "../core/outcome.js";
import { transfer } from "../core/transfer.js";
import { getTransfer, publicView } from "../core/transfers.js";
import { withdraw } from "../core/withdraw.js";
import * as s from "./schemas.js";
import type { Services } from "./services.js";

export type RequestInfo = {
  userId: number;
  body: Record<string, unknown>;
  query: Record<string, unknown>;
  params: Record<string, string>;
  idempotencyKey?: string;
  requestHash?: string;
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
  /** its own SQL opens the caller's wallet (wallet_post, wallet_accept_transfers, getBalance) */
  opensWallet?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  handler(req: RequestInfo, svc: Services): Promise<Reply>;
};

const refusals = (...codes: Array<keyof typeof ERROR_CODES>) =>
  Object.fromEntries(
    [...new Set(["invalid_request", "unauthorized", "rate_limited", "internal", ...codes] as const)].map((code) => [
      ERROR_CODES[code].status,
      { description: `${ERROR_CODES[code].message} (error code ${code})`, schema: s.ErrorResponse },
    ]),
  );

/** Turns a use case's outcome into a reply, telling the cache of the write first. */
async function outcomeReply<T>(svc: Services, kind: string, outcome: Outcome<T>, successStatus = 200): Promise<Reply> {
  // read-your-writes: the new versions reach the cache before the client hears back
  if (outcome.versions.length > 0) await svc.reads.afterWrite(outcome.versions);
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

const idem = (r: RequestInfo) => ({ idempotencyKey: r.idempotencyKey, requestHash: r.requestHash });

export const routes: Route[] = [
  {
    method: "POST",
    path: "/api/deposit/v1",
    operationId: "deposit",
    opensWallet: true,
    summary: "Deposit cents into your wallet",
    tag: "money",
    auth: true,
    rateLimited: true,
    body: s.AmountBody,
    responses: {
      200: { description: "Deposited", schema: s.BalanceChangeResponse },
      ...refusals(
        "balance_limit_exceeded",
        "idempotency_key_reused",
        "payload_too_large",
        "idempotency_key_in_progress",
      ),
    },
    handler: async (r, svc) => {
      const { amount } = r.body as z.infer<typeof s.AmountBody>;
      return outcomeReply(svc, "deposit", await deposit(svc.ctx, { userId: r.userId, amount, ...idem(r) }));
    },
  },
  {
    method: "POST",
    path: "/api/withdraw/v1",
    operationId: "withdraw",
    opensWallet: true,
    summary: "Withdraw cents from your wallet",
    tag: "money",
    auth: true,
    rateLimited: true,
    body: s.AmountBody,
    responses: {
      200: { description: "Withdrawn", schema: s.BalanceChangeResponse },
      ...refusals("insufficient_funds", "idempotency_key_reused", "payload_too_large", "idempotency_key_in_progress"),
    },
    handler: async (r, svc) => {
      const { amount } = r.body as z.infer<typeof s.AmountBody>;
      return outcomeReply(svc, "withdraw", await withdraw(svc.ctx, { userId: r.userId, amount, ...idem(r) }));
    },
  },
  {
    method: "POST",
    path: "/api/transfer/v1",
    operationId: "transfer",
    opensWallet: true,
    summary: "Transfer cents to another wallet, synchronously",
    tag: "money",
    auth: true,
    rateLimited: true,
    body: s.TransferBody,
    responses: {
      200: { description: "Transferred", schema: s.TransferResponse },
      ...refusals(
        "wallet_not_found",
        "insufficient_funds",
        "same_wallet",
        "balance_limit_exceeded",
        "idempotency_key_reused",
        "payload_too_large",
        "idempotency_key_in_progress",
      ),
    },
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof s.TransferBody>;
      const outcome = await transfer(svc.ctx, {
        fromUserId: r.userId,
        toUserId: b.destination_user_id,
        amount: b.amount,
        ...idem(r),
      });
      return outcomeReply(svc, "transfer", outcome);
    },
  },
  {
    method: "POST",
    path: "/api/transfer/v2",
    operationId: "transferAsync",
    opensWallet: true,
    summary: "Transfer cents to another wallet, asynchronously (durable once accepted)",
    tag: "money",
    auth: true,
    rateLimited: true,
    body: s.TransferBody,
    responses: {
      202: { description: "Accepted: recorded durably, applied by a worker", schema: s.TransferAcceptedResponse },
      ...refusals(
        "wallet_not_found",
        "same_wallet",
        "idempotency_key_reused",
        "payload_too_large",
        "idempotency_key_in_progress",
      ),
    },
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof s.TransferBody>;
      const outcome = await acceptTransfer(svc.ctx, {
        fromUserId: r.userId,
        toUserId: b.destination_user_id,
        amount: b.amount,
        ...idem(r),
      });
      return outcomeReply(svc, "transfer_async", outcome, 202);
    },
  },
  {
    method: "GET",
    path: "/api/transfer/v2/{transfer_id}",
    operationId: "getTransfer",
    summary: "The status of a transfer (sender or receiver only)",
    tag: "money",
    auth: true,
    rateLimited: true,
    query: s.EmptyQuery,
    responses: { 200: { description: "The transfer", schema: s.TransferStatusResponse }, ...refusals("not_found") },
    handler: async (r, svc) => {
      const t = await getTransfer(svc.ctx, { transferId: r.params.transfer_id!, viewerUserId: r.userId });
      return { status: 200, body: publicView(t) };
    },
  },
  {
    method: "GET",
    path: "/api/wallet/balance/v1",
    operationId: "balance",
    opensWallet: true,
    summary: "Your balance in cents",
    tag: "wallet",
    auth: true,
    rateLimited: true,
    query: s.EmptyQuery,
    responses: { 200: { description: "The balance", schema: s.BalanceResponse }, ...refusals() },
    handler: async (r, svc) => ({ status: 200, body: { balance: await svc.reads.balance(r.userId) } }),
  },
  {
    method: "GET",
    path: "/api/transactions/v1",
    operationId: "history",
    summary: "Your ledger entries, newest first",
    tag: "wallet",
    auth: true,
    rateLimited: true,
    query: s.HistoryQuery,
    responses: { 200: { description: "A page of entries", schema: s.HistoryResponse }, ...refusals() },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.HistoryQuery>;
      return {
        status: 200,
        json: await svc.reads.historyJson({ userId: r.userId, type: q.type, page: q.page, pageSize: q.page_size }),
      };
    },
  },
];
