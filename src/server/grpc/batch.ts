/**
 * SubmitBatch: POST /api/batches/v1 over gRPC. Each BatchOperation is read into the
 * JSON operation it mirrors (absent fields absent, so that the Idempotency-Key's hash
 * is the HTTP body's: one key space across the two protocols) and run by the same
 * code. A refusal is FAILED_PRECONDITION batch_refused, its {index, code} in the
 * trailing metadata wallet-error-details.
 */
import type * as grpc from "@grpc/grpc-js";
import { WalletError } from "../../core/errors.js";
import { batchOutcome } from "../batchOperations.js";
import { countOutcome } from "../admission.js";
import type { Services } from "../services.js";
import { givenCurrency, present, tagFields } from "./money.js";
import { idempotencyFrom, type Pipeline, type Req } from "./pipeline.js";
import { MD } from "./proto.js";

/** A BatchOperation message as the JSON operation of the HTTP body. */
function operationOf(op: Req): Record<string, unknown> {
  const currency = givenCurrency(op.currency);
  return {
    type: op.type,
    ...present(op, "amount", "destination_user_id", "expires_in_seconds", "hold_id", "quote_id"),
    ...(currency === undefined ? {} : { currency }),
    ...tagFields(op),
  };
}

export function batchHandlers(p: Pipeline, svc: Services): grpc.UntypedServiceImplementation {
  return {
    SubmitBatch: p.unary("SubmitBatch", { operationId: "batch", opensWallet: true }, async (req, info) => {
      const operations = ((req.operations as Req[] | undefined) ?? []).map(operationOf);
      if (operations.length === 0 || operations.length > 100) {
        throw new WalletError("invalid_request", "operations: a batch has 1 to 100 operations");
      }
      const idem = idempotencyFrom(info, "POST /api/batches/v1", { operations });
      const outcome = await batchOutcome(svc.ctx, info.userId, operations, idem);
      if (countOutcome(svc.metrics, "batch", outcome)) info.headers.set(MD.replayed, "true");
      if (!outcome.ok) throw new WalletError(outcome.code, undefined, outcome.details);
      return { batch_id: outcome.value.batch_id, results: outcome.value.results.map((r) => JSON.stringify(r)) };
    }),
  };
}
