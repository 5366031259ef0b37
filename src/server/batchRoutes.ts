/** POST /api/batches/v1: several operations of the caller, applied in order, all or none. */
import type { z } from "zod";
import { applyBatch, type BatchItem, type BatchOutcome } from "../core/batches.js";
import { ERROR_CODES, WalletError } from "../core/errors.js";
import { isId } from "../core/ids.js";
import type { Idempotency } from "../core/outcome.js";
import { HOLD_DEFAULT_SECONDS, OpKind } from "../core/operations.js";
import { countOutcome } from "./admission.js";
import { BatchBody, BatchOperation, BatchResponse, type BatchOperationBody } from "./batchSchemas.js";
import { currencyOf, outcomeReply, user, type Route } from "./routes.js";
import { describeIssues } from "./schemas.js";
import type { Services } from "./services.js";
import { tagsOf } from "./tagSchemas.js";

/** One validated operation in the core's names (currency resolved: outside CURRENCIES, a refusal of it). */
function toItem(svc: Services, o: BatchOperationBody): BatchItem {
  const tags = tagsOf(o);
  switch (o.type) {
    case "deposit":
    case "withdraw":
      return {
        kind: o.type === "deposit" ? OpKind.Deposit : OpKind.Withdraw,
        amount: o.amount,
        currency: currencyOf(svc, o.currency),
        ...tags,
      };
    case "transfer":
      return {
        kind: OpKind.Transfer,
        counterpartyId: o.destination_user_id,
        amount: o.amount,
        currency: currencyOf(svc, o.currency),
        ...tags,
      };
    case "hold":
      return {
        kind: OpKind.PlaceHold,
        counterpartyId: o.destination_user_id,
        amount: o.amount,
        currency: currencyOf(svc, o.currency),
        expiresInSeconds: o.expires_in_seconds ?? HOLD_DEFAULT_SECONDS,
        ...tags,
      };
    case "capture":
      return { kind: OpKind.CaptureHold, target: o.hold_id, amount: o.amount, ...tags };
    case "void":
      return { kind: OpKind.VoidHold, target: o.hold_id, ...tags };
    case "exchange":
      return { kind: OpKind.Exchange, target: o.quote_id, ...tags };
  }
}

/** An id too large to name a row names none: 0 never exists, so the operation is refused not_found. */
const knownId = (id: string | undefined) => (id === undefined || id.startsWith("$") || isId(id) ? id : "0");

/** The items, or a refusal of one of them known before anything runs (currency_not_supported). */
function itemsOf(svc: Services, raw: unknown[]): BatchItem[] | { index: number; code: "currency_not_supported" } {
  const items: BatchItem[] = [];
  for (const [index, value] of raw.entries()) {
    const parsed = BatchOperation.safeParse(value);
    if (!parsed.success) {
      throw new WalletError("invalid_request", `operations[${index}]: ${describeIssues(parsed.error)}`, { index });
    }
    try {
      const item = toItem(svc, parsed.data);
      items.push({ ...item, target: knownId(item.target) });
    } catch (err) {
      if (err instanceof WalletError && err.code === "currency_not_supported") return { index, code: err.code };
      throw err;
    }
  }
  return items;
}

/**
 * A batch's outcome: its operations validated (400 naming the index of a malformed
 * one), then applied. HTTP and gRPC both answer it.
 */
export async function batchOutcome(
  svc: Services,
  userId: number,
  operations: unknown[],
  idempotency: Idempotency | undefined,
): Promise<BatchOutcome> {
  const items = itemsOf(svc, operations);
  if (!Array.isArray(items)) return { ok: false, code: "batch_refused", replayed: false, details: items };
  return applyBatch(svc.ctx, { userId, items, idempotency });
}

export const batchRoutes: Route[] = [
  {
    ...user,
    method: "POST",
    path: "/api/batches/v1",
    operationId: "batch",
    opensWallet: true,
    summary: "Apply 1..100 of your operations in order, in one transaction: all of them or none",
    description:
      "Each operation has the fields, rules and refusals of its own route. When one is refused nothing is " +
      "applied: 422 batch_refused with error.details {index, code}. A malformed operation: 400 with " +
      "error.details.index. Idempotency-Key covers the whole batch.",
    tag: "money",
    body: BatchBody,
    responses: { 200: { description: "Every operation applied, in order", schema: BatchResponse } },
    refusals: ["batch_refused"],
    handler: async (r, svc) => {
      const body = r.body as z.infer<typeof BatchBody>;
      const outcome = await batchOutcome(svc, r.userId, body.operations, r.idempotency);
      if (outcome.ok || !outcome.details) return outcomeReply(svc, "batch", outcome, 200);
      const headers: Record<string, string> = {};
      if (countOutcome(svc.metrics, "batch", outcome)) headers["Idempotent-Replayed"] = "true";
      const e = ERROR_CODES.batch_refused;
      return {
        status: e.status,
        headers,
        body: { error: { code: "batch_refused", message: e.message, details: outcome.details } },
      };
    },
  },
];
