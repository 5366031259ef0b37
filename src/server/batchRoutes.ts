/** POST /api/batches/v1: several operations of the caller, applied in order, all or none. */
import type { z } from "zod";
import { ERROR_CODES } from "../core/errors.js";
import { countOutcome } from "./admission.js";
import { batchOutcome } from "./batchOperations.js";
import { BatchBody, BatchResponse } from "./batchSchemas.js";
import { outcomeReply, user, type Route } from "./routes.js";

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
      const outcome = await batchOutcome(svc.ctx, r.userId, body.operations, r.idempotency);
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
