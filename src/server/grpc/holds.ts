/** CreateHold, CaptureHold, VoidHold and GetHold: the hold routes' handlers over gRPC. */
import type * as grpc from "@grpc/grpc-js";
import { WalletError } from "../../core/errors.js";
import { getHold } from "../../core/holds.js";
import { isId } from "../../core/ids.js";
import { captureHold, placeHold, voidHold, type HoldView } from "../../core/operations.js";
import * as s from "../schemas.js";
import type { Services } from "../services.js";
import { tagsOf } from "../tagSchemas.js";
import { present, tagFields, write } from "./money.js";
import type { Message, Pipeline, Req } from "./pipeline.js";
import { ENUM_PREFIX, toEnum } from "./proto.js";

const rawId = (req: Req): string => (typeof req.hold_id === "string" ? req.hold_id : "");

/** A hold id that cannot exist is answered like one the caller may not see, as over HTTP. */
function holdId(id: string): string {
  if (!isId(id)) throw new WalletError("not_found", "No such hold.");
  return id;
}

const view = <H extends HoldView>(h: H): Message => ({ ...h, status: toEnum(ENUM_PREFIX.holdStatus, h.status) });

export function holdHandlers(p: Pipeline, svc: Services): grpc.UntypedServiceImplementation {
  const opens = { opensWallet: true } as const;
  return {
    CreateHold: p.unary("CreateHold", { operationId: "placeHold", ...opens }, async (req, info) =>
      view(
        await write(svc, info, {
          kind: "placeHold",
          operation: "POST /api/holds/v1",
          schema: s.HoldBody,
          fields: {
            amount: req.amount,
            ...present(req, "destination_user_id", "expires_in_seconds"),
            ...tagFields(req),
          },
          currency: req.currency,
          run: (b, idempotency, currency) =>
            placeHold(svc.ctx, {
              userId: info.userId,
              amount: b.amount,
              currency,
              toUserId: b.destination_user_id,
              expiresInSeconds: b.expires_in_seconds,
              idempotency,
              tags: tagsOf(b),
            }),
        }),
      ),
    ),
    CaptureHold: p.unary("CaptureHold", { operationId: "captureHold", ...opens }, async (req, info) => {
      // as over HTTP: the body and the key are judged before the id (the path as sent is the operation)
      const id = rawId(req);
      return view(
        await write(svc, info, {
          kind: "captureHold",
          operation: `POST /api/holds/v1/${id}/capture`,
          schema: s.CaptureBody,
          fields: { ...present(req, "amount"), ...tagFields(req) },
          run: (b, idempotency) =>
            captureHold(svc.ctx, {
              holdId: holdId(id),
              actorId: info.userId,
              amount: b.amount,
              idempotency,
              tags: tagsOf(b),
            }),
        }),
      );
    }),
    VoidHold: p.unary("VoidHold", { operationId: "voidHold", ...opens }, async (req, info) => {
      const id = rawId(req);
      return view(
        await write(svc, info, {
          kind: "voidHold",
          operation: `POST /api/holds/v1/${id}/void`,
          schema: s.EmptyQuery,
          fields: {},
          run: (_b, idempotency) => voidHold(svc.ctx, { holdId: holdId(id), actorId: info.userId, idempotency }),
        }),
      );
    }),
    GetHold: p.unary("GetHold", { operationId: "getHold" }, async (req, info) =>
      view(await getHold(svc.ctx, { holdId: holdId(rawId(req)), viewerUserId: info.userId })),
    ),
  };
}
