/**
 * Deposit, Withdraw, Transfer, TransferAsync, GetTransfer, GetBalance and
 * ListTransactions: each the handler of its HTTP route, over gRPC. The request's
 * fields are read into the HTTP body or query they mirror and validated by the same
 * schema; writes hash that body under the HTTP operation for the Idempotency-Key.
 * `currency` ("" = absent: proto3 cannot tell unset from empty) is resolved as HTTP
 * resolves it, and is in the hashed body only when given, as in the JSON.
 */
import type * as grpc from "@grpc/grpc-js";
import type { z } from "zod";
import type { Outcome } from "../../core/outcome.js";
import { acceptTransfer, deposit, transfer, withdraw } from "../../core/operations.js";
import type { TransferAccepted, TransferDone } from "../../core/operations.js";
import { balanceAtInstant } from "../../core/operator.js";
import { getTransfer, publicView } from "../../core/transfers.js";
import * as s from "../schemas.js";
import { Reference, tagsOf } from "../tagSchemas.js";
import type { Services } from "../services.js";
import { idempotencyFrom, parse, settle, type CallInfo, type Message, type Pipeline, type Req } from "./pipeline.js";
import { ENUM_PREFIX, fromEnum, toEnum } from "./proto.js";

/** An absent optional field is absent from the body (and so from the idempotency hash), as in JSON. */
export function present(req: Req, ...names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of names) if (req[n] !== undefined && req[n] !== null) out[n] = req[n];
  return out;
}

/** reference, metadata and expected_version as the JSON body has them: absent (or an empty map) stays absent. */
export function tagFields(req: Req): Record<string, unknown> {
  const meta = req.metadata as Record<string, string> | undefined;
  return {
    ...present(req, "reference", "expected_version"),
    ...(meta && Object.keys(meta).length ? { metadata: meta } : {}),
  };
}

/** A request's currency as given: a non-empty string, else absent. */
export function givenCurrency(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** The request's currency: given, or DEFAULT_CURRENCY; malformed 400, not accepted 422. */
export function currencyOf(svc: Services, v: unknown): string {
  return svc.ctx.currencies.resolve(givenCurrency(v));
}

/**
 * A write: the HTTP route's body schema, its operation for the key's hash, one use case.
 * currency: the request's field as sent, for the routes whose body has one.
 */
export async function write<B extends z.ZodType, T>(
  svc: Services,
  info: CallInfo,
  o: {
    kind: string;
    operation: string;
    schema: B;
    fields: Record<string, unknown>;
    currency?: unknown;
    run(body: z.infer<B>, idem: ReturnType<typeof idempotencyFrom>, currency: string): Promise<Outcome<T>>;
  },
): Promise<T> {
  const body = parse(o.schema, o.fields);
  const currency = currencyOf(svc, o.currency);
  const hashed = givenCurrency(o.currency) === undefined ? (body as object) : { ...(body as object), currency };
  const idem = idempotencyFrom(info, o.operation, hashed);
  return settle(svc, o.kind, await o.run(body, idem, currency), info);
}

const TYPES = ["unspecified", "deposit", "withdraw", "transfer", "reversal", "adjustment", "exchange"];

/** The enum's name as the HTTP query's number; an unknown number as itself (the schema refuses it). */
function historyType(v: unknown): string {
  if (typeof v === "number") return String(v);
  const i = TYPES.indexOf(fromEnum(ENUM_PREFIX.transactionType, v));
  return String(i === -1 ? 0 : i);
}

type MoveCase = (
  ctx: Services["ctx"],
  i: Parameters<typeof transfer>[1],
) => Promise<Outcome<TransferDone | TransferAccepted>>;
type HistoryJson = { transactions: { type: string; direction: string }[] };

export function moneyHandlers(p: Pipeline, svc: Services): grpc.UntypedServiceImplementation {
  const sync = (name: string, kind: string, path: string, run: typeof deposit) =>
    p.unary(name, { operationId: kind, opensWallet: true }, async (req, info) =>
      write(svc, info, {
        kind,
        operation: `POST ${path}`,
        schema: s.AmountBody,
        fields: { amount: req.amount, ...tagFields(req) },
        currency: req.currency,
        run: (b, idempotency, currency) =>
          run(svc.ctx, { userId: info.userId, amount: b.amount, currency, idempotency, tags: tagsOf(b) }),
      }),
    );
  const move = (name: string, kind: string, path: string, run: MoveCase) =>
    p.unary(name, { operationId: kind, opensWallet: true }, async (req, info) => {
      const v = await write(svc, info, {
        kind,
        operation: `POST ${path}`,
        schema: s.TransferBody,
        fields: { destination_user_id: req.destination_user_id, amount: req.amount, ...tagFields(req) },
        currency: req.currency,
        run: (b, idempotency, currency) =>
          run(svc.ctx, {
            userId: info.userId,
            toUserId: b.destination_user_id,
            amount: b.amount,
            currency,
            idempotency,
            tags: tagsOf(b),
          }),
      });
      return "status" in v ? { ...v, status: toEnum(ENUM_PREFIX.transferStatus, v.status) } : v;
    });

  return {
    Deposit: sync("Deposit", "deposit", "/api/deposit/v1", deposit),
    Withdraw: sync("Withdraw", "withdraw", "/api/withdraw/v1", withdraw),
    Transfer: move("Transfer", "transfer", "/api/transfer/v1", transfer),
    TransferAsync: move("TransferAsync", "transferAsync", "/api/transfer/v2", acceptTransfer),
    GetTransfer: p.unary("GetTransfer", { operationId: "getTransfer" }, async (req, info) => {
      const t = publicView(
        await getTransfer(svc.ctx, { transferId: String(req.transfer_id), viewerUserId: info.userId }),
      );
      return { ...t, status: toEnum(ENUM_PREFIX.transferStatus, t.status) };
    }),
    GetBalance: p.unary("GetBalance", { operationId: "balance", opensWallet: true }, async (req, info) => {
      const { at } = parse(s.BalanceQuery, present(req, "at"));
      const currency = currencyOf(svc, req.currency);
      return at ? balanceAtInstant(svc.ctx, info.userId, at, currency) : svc.reads.balance(info.userId, currency);
    }),
    ListTransactions: p.unary("ListTransactions", { operationId: "history" }, async (req, info) => {
      const type = historyType(req.type);
      // exchange (6) is taken here, so that the RPC does not depend on the query schema listing it
      const q = parse(s.HistoryQuery, {
        ...(type === "6" ? {} : { type }),
        ...(req.page != null ? { page: String(req.page) } : {}),
        ...(req.page_size != null ? { page_size: String(req.page_size) } : {}),
        ...(req.cursor != null ? { cursor: String(req.cursor) } : {}),
      });
      const reference = req.reference == null ? undefined : parse(Reference, req.reference);
      const json = await svc.reads.historyJson({
        userId: info.userId,
        currency:
          reference !== undefined && givenCurrency(req.currency) === undefined
            ? undefined
            : currencyOf(svc, req.currency),
        reference,
        type: type === "6" ? 6 : q.type,
        page: q.page,
        pageSize: q.page_size,
        cursor: q.cursor,
      });
      const page = JSON.parse(json) as HistoryJson & Message;
      for (const e of page.transactions) {
        e.type = toEnum(ENUM_PREFIX.transactionType, e.type);
        e.direction = toEnum(ENUM_PREFIX.direction, e.direction);
      }
      return page;
    }),
  };
}
