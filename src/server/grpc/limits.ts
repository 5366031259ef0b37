/** GetLimits: GET /api/limits/v1 over gRPC (the caller's tier, credit line and limits). */
import type * as grpc from "@grpc/grpc-js";
import { userLimits } from "../../core/limits.js";
import { currencyOf } from "./money.js";
import type { Services } from "../services.js";
import type { Pipeline } from "./pipeline.js";

export function limitHandlers(p: Pipeline, svc: Services): grpc.UntypedServiceImplementation {
  return {
    GetLimits: p.unary("GetLimits", { operationId: "limits" }, async (req, info) => {
      const view = await userLimits(svc.ctx, info.userId, currencyOf(svc, req.currency));
      // proto3: an absent resets_at is left out rather than sent as null
      return { ...view, limits: view.limits.map(({ resets_at, ...l }) => (resets_at ? { ...l, resets_at } : l)) };
    }),
  };
}
