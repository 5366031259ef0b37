/**
 * The HTTP pipeline on node:http: request id, route match, admission (admission.ts:
 * authentication, rate limit, the wallet opened), body (64 KiB cap, strict JSON),
 * validation, idempotency hash, the handler, error mapping, compression, metrics and
 * the access log line. Everything from the first byte of the request line to the
 * answer happens inside one error boundary: what a client sends is answered, never
 * thrown at the process.
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { z } from "zod";
import { isUnavailable } from "../core/db/errors.js";
import { WalletError } from "../core/errors.js";
import { traced } from "../core/tracing.js";
import type { Admission } from "./admission.js";
import type { AdminAuthenticator } from "./auth.js";
import { ClientGoneError, parseJsonObject, parseQuery, readBody, sendBody, sendError, sendJson } from "./http.js";
import { idempotencyOf } from "./idempotency.js";
import { withRequestId } from "./processGuard.js";
import { withStoredReply } from "./storedReplies.js";
import { createRouter } from "./router.js";
import type { Reply, RequestInfo, Route } from "./routes.js";
import { describeIssues } from "./schemas.js";
import type { Services } from "./services.js";

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * The HTTP server's own limits (docs/operations.md, "Limits that protect the process"):
 * a request's headers must arrive within HEADERS_TIMEOUT_MS and the whole request,
 * body included, within REQUEST_TIMEOUT_MS (else 408 and the connection closes); an
 * idle keep-alive connection is closed after KEEP_ALIVE_TIMEOUT_MS; headers are at
 * most MAX_HEADER_BYTES (else 431); one connection serves at most
 * MAX_REQUESTS_PER_SOCKET requests.
 */
export const HTTP_LIMITS = {
  requestTimeoutMs: 30_000,
  headersTimeoutMs: 10_000,
  keepAliveTimeoutMs: 5_000,
  maxHeaderBytes: 16 * 1024,
  maxRequestsPerSocket: 10_000,
} as const;

export type AppOptions = {
  services: Services;
  routes: Route[];
  /** authentication, rate limit and wallet opening, shared with the gRPC server */
  admission: Admission;
  /** with ADMIN_TOKEN set: the admin routes' check */
  adminAuth?: AdminAuthenticator;
};

export function createApp(opts: AppOptions) {
  const { services: svc, admission, adminAuth } = opts;
  const match = createRouter(opts.routes);
  let inFlight = 0;
  let closing = false;

  function parse(schema: z.ZodType, value: unknown): Record<string, unknown> {
    const result = schema.safeParse(value);
    if (!result.success) throw new WalletError("invalid_request", describeIssues(result.error));
    return result.data as Record<string, unknown>;
  }

  // a route's query as it is with no parameters (its defaults): judged once, copied per request
  const emptyQueries = new Map<Route, Record<string, unknown>>();
  function noQuery(route: Route): Record<string, unknown> {
    let q = emptyQueries.get(route);
    if (!q) emptyQueries.set(route, (q = parse(route.query!, {})));
    return { ...q };
  }

  async function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    route: Route,
    params: Record<string, string>,
    path: string,
    search: string,
  ): Promise<Reply> {
    const info: RequestInfo = { userId: 0, body: {}, query: {}, params };
    if (route.admin) {
      const actor = req.headers["x-actor"];
      info.actor = adminAuth!(req.headers.authorization, typeof actor === "string" ? actor : undefined);
    } else if (route.auth) {
      const { rateLimited, opensWallet } = route;
      const authorization = req.headers.authorization;
      info.userId = await admission.admit({ authorization, rateLimited, opensWallet }, (k, v) => res.setHeader(k, v));
    }
    info.query = route.query ? (search === "" ? noQuery(route) : parse(route.query, parseQuery(search))) : {};
    if (route.body) {
      const raw = await readBody(req);
      info.body = parse(route.body, raw.length === 0 && route.bodyOptional ? {} : parseJsonObject(raw));
    }
    const key = req.headers["idempotency-key"];
    // the operation as sent (a capture of one hold is not a capture of another) and its fields
    if (key !== undefined && (route.body || route.storesReply))
      info.idempotency = idempotencyOf(key, `${route.method} ${path}`, info.body);
    const run = () => route.handler(info, svc);
    const idem = info.idempotency;
    return traced(route.operationId, { "wallet.user_id": info.userId }, () =>
      route.storesReply && idem ? withStoredReply(svc.ctx.db, idem, run) : run(),
    );
  }

  /** The answer to what went wrong; status: what the request is counted as. */
  function answerError(req: IncomingMessage, res: ServerResponse, err: unknown, requestId: string, label: string) {
    if (err instanceof ClientGoneError) {
      // nobody to answer and nothing wrong here: counted apart, not as a 5xx (nginx's 499)
      svc.metrics.clientAborted.inc({ route: label, method: req.method ?? "GET" });
      res.destroy();
      return 499;
    }
    if (err instanceof WalletError && err.code !== "unavailable") {
      // the rest of an oversized body is not read: this connection cannot be reused
      if (err.code === "payload_too_large") res.setHeader("Connection", "close");
      sendError(req, res, err);
    } else if (err instanceof WalletError || isUnavailable(err)) {
      // the database is away: temporary; a write may have been applied (retry it with its key)
      res.setHeader("Retry-After", "1");
      sendError(req, res, new WalletError("unavailable"));
    } else {
      // never a stack trace or SQL to the client: the log has it, under this request id
      svc.log.error({ err, requestId, route: label }, "request failed");
      sendError(req, res, new WalletError("internal"));
    }
    return res.statusCode;
  }

  function sendReply(req: IncomingMessage, res: ServerResponse, reply: Reply): void {
    for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
    if (reply.json !== undefined) sendBody(req, res, reply.status, reply.json, "application/json; charset=utf-8");
    else if (reply.text !== undefined)
      sendBody(req, res, reply.status, reply.text, reply.contentType ?? "text/plain; charset=utf-8");
    else sendJson(req, res, reply.status, reply.body);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, requestId: string): Promise<void> {
    const started = performance.now();
    const method = req.method ?? "GET";
    let label = "unmatched";
    let status = 0;
    inFlight++;
    try {
      res.setHeader("X-Request-Id", requestId);
      if (closing) res.setHeader("Connection", "close");
      const url = req.url ?? "/";
      const q = url.indexOf("?");
      const path = q === -1 ? url : url.slice(0, q);
      const search = q === -1 ? "" : url.slice(q + 1);
      const { route, params, allowed } = match(method, path);
      if (!route) {
        if (allowed.length > 0) {
          res.setHeader("Allow", [...new Set(allowed)].join(", "));
          throw new WalletError("method_not_allowed");
        }
        throw new WalletError("not_found", `No route for ${method} ${path}.`);
      }
      label = route.path;
      const reply = await traced(
        `${method} ${route.path}`,
        { "http.method": method, "http.route": route.path, "wallet.request_id": requestId },
        () => dispatch(req, res, route, params, path, search),
      );
      sendReply(req, res, reply);
      status = res.statusCode;
    } catch (err) {
      status = answerError(req, res, err, requestId, label);
    } finally {
      inFlight--;
      const seconds = (performance.now() - started) / 1000;
      svc.metrics.requests.inc({ route: label, method, status: String(status) });
      svc.metrics.latency.observe({ route: label, method }, seconds);
      if (svc.log.isLevelEnabled("debug") || status >= 500) {
        svc.log[status >= 500 ? "error" : "debug"](
          { requestId, method, route: label, status, ms: Math.round(seconds * 1e4) / 10 },
          "request",
        );
      }
    }
  }

  /** The one boundary: whatever handle could not answer (a bug in the answering itself) is logged, the socket closed. */
  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const incomingId = req.headers["x-request-id"];
    const requestId = typeof incomingId === "string" && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    withRequestId(requestId, () =>
      handle(req, res, requestId).catch((err: unknown) => {
        svc.log.error({ err, requestId }, "request could not be answered");
        res.destroy();
      }),
    );
  }

  const server = http.createServer(
    {
      requestTimeout: HTTP_LIMITS.requestTimeoutMs, // the whole request, body included
      headersTimeout: HTTP_LIMITS.headersTimeoutMs,
      keepAliveTimeout: HTTP_LIMITS.keepAliveTimeoutMs,
      maxHeaderSize: HTTP_LIMITS.maxHeaderBytes,
    },
    onRequest,
  );
  server.maxRequestsPerSocket = HTTP_LIMITS.maxRequestsPerSocket;
  // once listening, an accept that failed (EMFILE) must not become an uncaught 'error' event
  server.once("listening", () =>
    server.on("error", (err) => svc.log.warn({ err: err.message }, "HTTP server could not accept a connection")),
  );
  server.on("clientError", (err: NodeJS.ErrnoException, socket) => {
    if (socket.writable && err.code !== "ECONNRESET") {
      const body = JSON.stringify({ error: { code: "invalid_request", message: "Malformed HTTP request." } });
      socket.end(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
      );
    } else {
      socket.destroy();
    }
  });

  return {
    server,
    /** Stops accepting, lets in-flight requests finish (up to timeoutMs), closes idle keep-alive sockets. */
    async close(timeoutMs: number): Promise<void> {
      closing = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + timeoutMs;
      while (inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      server.closeAllConnections();
      await closed;
    },
  };
}
