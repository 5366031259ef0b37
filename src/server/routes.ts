/**
 * What a route is: its method, path, schemas (which validate requests and describe
 * them in the OpenAPI document), the refusals it may answer, and its handler.
 * Handlers parse nothing and format little: they call one use case and turn its
 * outcome into a reply. The route tables are moneyRoutes.ts, holdRoutes.ts and
 * opsRoutes.ts.
 */
import type { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../core/errors.js";
import type { Idempotency, Outcome } from "../core/outcome.js";
import { countOutcome } from "./admission.js";
import type { Services } from "./services.js";

export type RequestInfo = {
  userId: number;
  /** admin routes: the X-Actor of an authenticated admin */
  actor?: string;
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
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  operationId: string;
  summary: string;
  /** longer prose for the OpenAPI document, when the summary is not enough */
  description?: string;
  tag: string;
  auth: boolean;
  /** the admin API: the admin token and X-Actor instead of a user's credentials */
  admin?: boolean;
  rateLimited: boolean;
  /** its own SQL opens the caller's wallet (wallet_apply, reading the balance) */
  opensWallet?: boolean;
  body?: z.ZodType;
  query?: z.ZodType;
  /** an admin POST that moves no money: its Idempotency-Key is kept around it (storedReplies.ts) */
  storesReply?: boolean;
  /** an empty body is taken as {} (the body's fields are all optional) */
  bodyOptional?: boolean;
  /** success (and other non-error) responses */
  responses: Record<number, { description: string; schema?: z.ZodType; contentType?: string }>;
  /** it takes a currency (body or query): an ISO code outside CURRENCIES is 422 currency_not_supported */
  currency?: boolean;
  /** the error codes this route may answer beyond those every route may (see routeRefusals) */
  refusals?: readonly ErrorCode[];
  handler(req: RequestInfo, svc: Services): Promise<Reply>;
};

/** Every error code a route may answer: its own, those of every authenticated or POST route, and the rest. */
export function routeRefusals(r: Route): ErrorCode[] {
  if (!r.auth && !r.body && !r.query && !r.refusals) return []; // operations routes: documented as they are
  const codes: ErrorCode[] = ["invalid_request", "internal", "unavailable"];
  if (r.auth) codes.push("unauthorized");
  if (r.rateLimited) codes.push("rate_limited");
  if (r.body) codes.push("payload_too_large", "idempotency_key_reused", "idempotency_key_in_progress");
  if (r.currency) codes.push("currency_not_supported");
  return [...new Set([...codes, ...(r.refusals ?? [])])];
}

/** Turns a use case's outcome into a reply. */
export function outcomeReply<T>(svc: Services, kind: string, outcome: Outcome<T>, successStatus: number): Reply {
  const headers: Record<string, string> = {};
  if (countOutcome(svc.metrics, kind, outcome)) headers["Idempotent-Replayed"] = "true";
  if (outcome.ok) return { status: successStatus, body: outcome.value, headers };
  const e = ERROR_CODES[outcome.code];
  const error = { code: outcome.code, message: e.message, ...(outcome.details ? { details: outcome.details } : {}) };
  return { status: e.status, body: { error }, headers };
}

export const user = { auth: true, rateLimited: true } as const;

/** The request's currency (a body field or query parameter): absent, the default; outside CURRENCIES, 422. */
export function currencyOf(svc: Services, given: unknown, field?: string): string {
  return svc.ctx.currencies.resolve(given, field);
}

/** A POST that moves money: validate the body, run one operation, answer its outcome. */
export function moneyRoute<B extends z.ZodType, T>(o: {
  path: string;
  operationId: string;
  summary: string;
  tag?: string;
  body: B;
  bodyOptional?: boolean;
  /** the body names a currency */
  currency?: boolean;
  status?: number;
  response: { description: string; schema: z.ZodType };
  refusals: readonly ErrorCode[];
  run(svc: Services, r: RequestInfo & { body: z.infer<B> }): Promise<Outcome<T>>;
}): Route {
  const status = o.status ?? 200;
  return {
    ...user,
    method: "POST",
    path: o.path,
    operationId: o.operationId,
    opensWallet: true,
    summary: o.summary,
    tag: o.tag ?? "money",
    body: o.body,
    bodyOptional: o.bodyOptional,
    currency: o.currency,
    responses: { [status]: o.response },
    refusals: o.refusals,
    handler: async (r, svc) =>
      outcomeReply(svc, o.operationId, await o.run(svc, r as RequestInfo & { body: z.infer<B> }), status),
  };
}
