/** Holds: two-phase payments. Place, capture (whole or part), void, read, list. */
import type { z } from "zod";
import { WalletError } from "../core/errors.js";
import { getHold, listHolds } from "../core/holds.js";
import { isId } from "../core/ids.js";
import { captureHold, placeHold, REFUSALS, voidHold } from "../core/operations.js";
import { currencyOf, moneyRoute, user, type RequestInfo, type Route } from "./routes.js";
import * as s from "./schemas.js";
import { tagsOf } from "./tagSchemas.js";

/** A hold id that cannot exist is answered like one the caller may not see. */
function holdId(r: RequestInfo): string {
  const id = r.params.hold_id!;
  if (!isId(id)) throw new WalletError("not_found", "No such hold.");
  return id;
}

export const holdRoutes: Route[] = [
  moneyRoute({
    path: "/api/holds/v1",
    operationId: "placeHold",
    tag: "holds",
    summary: "Reserve money in your wallet, to capture (move) or void (release) later",
    body: s.HoldBody,
    currency: true,
    status: 201,
    response: {
      description: "Held: the available balance is reduced, the balance is not",
      schema: s.HoldChangeResponse,
    },
    refusals: REFUSALS.placeHold,
    run: (svc, r) =>
      placeHold(svc.ctx, {
        userId: r.userId,
        amount: r.body.amount,
        toUserId: r.body.destination_user_id,
        expiresInSeconds: r.body.expires_in_seconds,
        currency: currencyOf(svc, r.body.currency),
        idempotency: r.idempotency,
        tags: tagsOf(r.body),
      }),
  }),
  moneyRoute({
    path: "/api/holds/v1/{hold_id}/capture",
    operationId: "captureHold",
    tag: "holds",
    summary:
      "Move a hold's money (all, or amount of it; the rest is released): its destination, or its payer without one",
    body: s.CaptureBody,
    bodyOptional: true,
    response: { description: "Captured", schema: s.HoldChangeResponse },
    refusals: REFUSALS.captureHold,
    run: (svc, r) =>
      captureHold(svc.ctx, {
        holdId: holdId(r),
        actorId: r.userId,
        amount: r.body.amount,
        idempotency: r.idempotency,
        tags: tagsOf(r.body),
      }),
  }),
  moneyRoute({
    path: "/api/holds/v1/{hold_id}/void",
    operationId: "voidHold",
    tag: "holds",
    summary: "Release a hold: its destination, or its payer without one",
    body: s.EmptyQuery,
    bodyOptional: true,
    response: { description: "Voided", schema: s.HoldChangeResponse },
    refusals: REFUSALS.voidHold,
    run: (svc, r) => voidHold(svc.ctx, { holdId: holdId(r), actorId: r.userId, idempotency: r.idempotency }),
  }),
  {
    ...user,
    method: "GET",
    path: "/api/holds/v1/{hold_id}",
    operationId: "getHold",
    tag: "holds",
    summary: "A hold (its payer and its destination may read it)",
    query: s.EmptyQuery,
    responses: { 200: { description: "The hold", schema: s.HoldResponse } },
    refusals: ["not_found"],
    handler: async (r, svc) => ({
      status: 200,
      body: await getHold(svc.ctx, { holdId: holdId(r), viewerUserId: r.userId }),
    }),
  },
  {
    ...user,
    method: "GET",
    path: "/api/holds/v1",
    operationId: "listHolds",
    tag: "holds",
    summary: "Your holds as payer, newest first",
    query: s.HoldListQuery,
    responses: { 200: { description: "A page of holds", schema: s.HoldListResponse } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof s.HoldListQuery>;
      return {
        status: 200,
        body: await listHolds(svc.ctx, { userId: r.userId, status: q.status, page: q.page, pageSize: q.page_size }),
      };
    },
  },
];
