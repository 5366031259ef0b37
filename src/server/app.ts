/**
 * The HTTP pipeline on node:http: request id, route match, authentication, rate
 * limit, body (64 KiB cap, strict JSON), validation, idempotency hash, the handler,
 * error mapping, compression, metrics and the access log line.
 */
import { randomUUID } from "node:crypto";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { z } from "zod";
import { isUnavailable } from "../core/db/errors.js";
import { WalletError } from "../core/errors.js";
import { openWallet } from "../core/store/wallets.js";
import { traced } from "../core/tracing.js";
import type { RateLimiter } from "../core/cache/rateLimiter.js";
import type { AdminAuthenticator, Authenticator } from "./auth.js";
import { parseJsonObject, readBody, sendBody, sendError, sendJson } from "./http.js";
import { idempotencyOf } from "./idempotency.js";
import type { Reply, RequestInfo, Route } from "./routes.js";
import { describeIssues } from "./schemas.js";
import type { Services } from "./services.js";

type CompiledRoute = Route & { regex: RegExp; paramNames: string[] };

function compile(route: Route): CompiledRoute {
  const paramNames: string[] = [];
  const pattern = route.path.replace(/\{([a-z_]+)\}/g, (_m, name: string) => {
    paramNames.push(name);
    return "([^/]+)";
  });
  return { ...route, regex: new RegExp(`^${pattern}$`), paramNames };
}

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

export type AppOptions = {
  services: Services;
  routes: Route[];
  authenticate: Authenticator;
  /** with ADMIN_TOKEN set: the admin routes' check */
  adminAuth?: AdminAuthenticator;
  limiter?: RateLimiter;
};

export function createApp(opts: AppOptions) {
  const { services: svc, authenticate, adminAuth, limiter } = opts;
  const compiled = opts.routes.map(compile);
  const exact = new Map<string, CompiledRoute>();
  for (const r of compiled) if (r.paramNames.length === 0) exact.set(`${r.method} ${r.path}`, r);
  let inFlight = 0;
  let closing = false;

  // "a wallet is opened the first time its owner is authenticated": once per user
  // per process (bounded), an insert that does nothing when the wallet exists
  const opened = new Set<number>();
  async function ensureWallet(userId: number): Promise<void> {
    if (opened.has(userId)) return;
    await openWallet(svc.ctx.db, userId);
    if (opened.size > 1_000_000) opened.clear();
    opened.add(userId);
  }

  function match(
    method: string,
    path: string,
  ): { route?: CompiledRoute; params: Record<string, string>; allowed: string[] } {
    const hit = exact.get(`${method === "HEAD" ? "GET" : method} ${path}`);
    if (hit) return { route: hit, params: {}, allowed: [] };
    const allowed: string[] = [];
    for (const r of compiled) {
      const m = r.regex.exec(path);
      if (!m) continue;
      if (r.method === method || (method === "HEAD" && r.method === "GET")) {
        const params: Record<string, string> = {};
        r.paramNames.forEach((name, i) => (params[name] = decodeURIComponent(m[i + 1]!)));
        return { route: r, params, allowed };
      }
      allowed.push(r.method);
    }
    return { params: {}, allowed };
  }

  function parse(schema: z.ZodType, value: unknown): Record<string, unknown> {
    const result = schema.safeParse(value);
    if (!result.success) throw new WalletError("invalid_request", describeIssues(result.error));
    return result.data as Record<string, unknown>;
  }

  function parseQuery(search: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of new URLSearchParams(search)) {
      if (k in out) throw new WalletError("invalid_request", `query parameter ${k} is given more than once`);
      out[k] = v;
    }
    return out;
  }

  async function dispatch(
    req: IncomingMessage,
    res: ServerResponse,
    route: CompiledRoute,
    params: Record<string, string>,
    path: string,
    search: string,
  ): Promise<Reply> {
    const info: RequestInfo = { userId: 0, body: {}, query: {}, params };
    if (route.admin) {
      const actor = req.headers["x-actor"];
      info.actor = adminAuth!(req.headers.authorization, typeof actor === "string" ? actor : undefined);
    } else if (route.auth) {
      info.userId = await authenticate(req.headers.authorization);
      if (limiter && route.rateLimited) {
        const d = await limiter.take(info.userId);
        res.setHeader("RateLimit-Limit", String(d.limit));
        res.setHeader("RateLimit-Remaining", String(d.remaining));
        res.setHeader("RateLimit-Reset", String(d.resetSeconds));
        if (!d.allowed) {
          svc.metrics.rateLimited.inc();
          res.setHeader("Retry-After", String(d.retryAfterSeconds));
          throw new WalletError("rate_limited");
        }
      }
    }
    info.query = route.query ? parse(route.query, parseQuery(search)) : {};
    if (route.body) {
      const raw = await readBody(req);
      info.body = parse(route.body, raw.length === 0 && route.bodyOptional ? {} : parseJsonObject(raw));
      const key = req.headers["idempotency-key"];
      // the operation as sent (a capture of one hold is not a capture of another) and its fields
      if (key !== undefined) info.idempotency = idempotencyOf(key, `${route.method} ${path}`, info.body);
    }
    if (route.auth && !route.admin && !route.opensWallet) await ensureWallet(info.userId);
    return traced(route.operationId, { "wallet.user_id": info.userId }, () => route.handler(info, svc));
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    inFlight++;
    const incomingId = req.headers["x-request-id"];
    const requestId = typeof incomingId === "string" && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    res.setHeader("X-Request-Id", requestId);
    if (closing) res.setHeader("Connection", "close");
    const url = req.url ?? "/";
    const q = url.indexOf("?");
    const path = q === -1 ? url : url.slice(0, q);
    const search = q === -1 ? "" : url.slice(q + 1);
    const method = req.method ?? "GET";
    const { route, params, allowed } = match(method, path);
    let label = route?.path ?? "unmatched";
    try {
      if (!route) {
        if (allowed.length > 0) {
          res.setHeader("Allow", [...new Set(allowed)].join(", "));
          throw new WalletError("method_not_allowed");
        }
        throw new WalletError("not_found", `No route for ${method} ${path}.`);
      }
      const reply = await traced(
        `${method} ${route.path}`,
        { "http.method": method, "http.route": route.path, "wallet.request_id": requestId },
        () => dispatch(req, res, route, params, path, search),
      );
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      if (reply.json !== undefined) sendBody(req, res, reply.status, reply.json, "application/json; charset=utf-8");
      else if (reply.text !== undefined)
        sendBody(req, res, reply.status, reply.text, reply.contentType ?? "text/plain; charset=utf-8");
      else sendJson(req, res, reply.status, reply.body);
    } catch (err) {
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
    } finally {
      inFlight--;
      const seconds = (performance.now() - started) / 1000;
      if (!route) label = "unmatched";
      svc.metrics.requests.inc({ route: label, method, status: String(res.statusCode) });
      svc.metrics.latency.observe({ route: label, method }, seconds);
      if (svc.log.isLevelEnabled("debug") || res.statusCode >= 500) {
        svc.log[res.statusCode >= 500 ? "error" : "debug"](
          { requestId, method, route: label, status: res.statusCode, ms: Math.round(seconds * 1e4) / 10 },
          "request",
        );
      }
    }
  }

  const server = http.createServer(
    {
      requestTimeout: 30_000, // the whole request, body included
      headersTimeout: 10_000,
      keepAliveTimeout: 5_000,
      maxHeaderSize: 16 * 1024,
    },
    (req, res) => void handle(req, res),
  );
  server.maxRequestsPerSocket = 10_000;
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
