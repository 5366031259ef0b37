/** Routes for operators and tools: health, readiness, metrics, the API's own description. */
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { ping } from "../core/store/maintenance.js";
import type { Route } from "./routes.js";
import type { Services } from "./services.js";

const require = createRequire(import.meta.url);

/** swagger-ui-dist's folder: the docs page is served from the installed package, no CDN */
function swaggerUiDir(): string | undefined {
  try {
    return path.dirname(require.resolve("swagger-ui-dist/package.json"));
  } catch {
    return undefined;
  }
}

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wallet API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>`;

// a token typed into the page lives in the page's memory only: never in localStorage
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: "/openapi.json", dom_id: "#swagger-ui", tryItOutEnabled: true,
  persistAuthorization: false, defaultModelsExpandDepth: 0 });`;

/** the packaged files the page loads (a Map: a name like __proto__ is no entry of it) */
const ASSETS = new Map<string, string>([
  ["swagger-ui.css", "text/css; charset=utf-8"],
  ["swagger-ui-bundle.js", "application/javascript; charset=utf-8"],
]);

/**
 * The docs page's headers: scripts and styles from this origin only (swagger-ui's
 * inline styles and its SVG data: images allowed), calls to this origin only, no
 * framing, no plugins; and no content sniffing of any of its files.
 */
export const DOCS_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
} as const;

/** metrics: serve /metrics here (false when METRICS_PORT gives it a listener of its own) */
export function opsRoutes(openapi: () => unknown, opts: { metrics: boolean } = { metrics: true }): Route[] {
  const plain = { auth: false, rateLimited: false, tag: "operations" } as const;
  const assetDir = swaggerUiDir();
  const assetCache = new Map<string, string>();
  const metricsRoute: Route = {
    ...plain,
    method: "GET",
    path: "/metrics",
    operationId: "metrics",
    summary: "Prometheus metrics",
    responses: { 200: { description: "Prometheus text format", contentType: "text/plain" } },
    handler: async (_r, svc: Services) => ({
      status: 200,
      text: await svc.metrics.registry.metrics(),
      contentType: svc.metrics.registry.contentType,
    }),
  };
  return [
    {
      ...plain,
      method: "GET",
      path: "/healthz",
      operationId: "healthz",
      summary: "Liveness: the process is up",
      responses: { 200: { description: "Up" } },
      handler: async () => ({ status: 200, body: { status: "ok" } }),
    },
    {
      ...plain,
      method: "GET",
      path: "/readyz",
      operationId: "readyz",
      summary: "Readiness: the database answers (and the state of the change feed and of Redis)",
      responses: { 200: { description: "Ready" }, 503: { description: "The database does not answer" } },
      handler: async (_r, svc: Services) => {
        const redis = svc.redisState();
        // caches are off while the change feed is down: still ready, but degraded
        const changes = svc.ctx.feed?.up ? "ok" : "down";
        try {
          await ping(svc.ctx.db, 1000);
        } catch {
          return {
            status: 503,
            headers: { "Retry-After": "1" },
            body: { status: "unavailable", database: "down", changes, redis },
          };
        }
        const degraded = redis === "degraded" || changes === "down";
        return { status: 200, body: { status: degraded ? "degraded" : "ok", database: "ok", changes, redis } };
      },
    },
    ...(opts.metrics ? [metricsRoute] : []),
    {
      ...plain,
      method: "GET",
      path: "/openapi.json",
      operationId: "openapi",
      summary: "This API's OpenAPI 3.1 document",
      responses: { 200: { description: "The document" } },
      handler: async () => ({ status: 200, body: openapi() }),
    },
    {
      ...plain,
      method: "GET",
      path: "/docs",
      operationId: "docs",
      summary: "A page to read and try the API",
      responses: { 200: { description: "HTML", contentType: "text/html" } },
      handler: async () => ({
        status: 200,
        text: DOCS_HTML,
        contentType: "text/html; charset=utf-8",
        headers: { ...DOCS_HEADERS, "Cache-Control": "no-store" },
      }),
    },
    {
      ...plain,
      method: "GET",
      path: "/docs/init.js",
      operationId: "docsInit",
      summary: "The docs page's script",
      responses: { 200: { description: "JavaScript", contentType: "application/javascript" } },
      handler: async () => ({
        status: 200,
        text: DOCS_INIT,
        contentType: "application/javascript; charset=utf-8",
        headers: { ...DOCS_HEADERS },
      }),
    },
    {
      ...plain,
      method: "GET",
      path: "/docs/assets/{file}",
      operationId: "docsAsset",
      summary: "The docs page's packaged assets",
      responses: { 200: { description: "A file" }, 404: { description: "No such asset" } },
      handler: async (r) => {
        const file = r.params.file!;
        const type = ASSETS.get(file);
        if (!type || !assetDir)
          return {
            status: 404,
            body: { error: { code: "not_found", message: "No such asset." } },
            headers: { ...DOCS_HEADERS },
          };
        let text = assetCache.get(file);
        if (text === undefined) {
          text = fs.readFileSync(path.join(assetDir, file), "utf8");
          assetCache.set(file, text);
        }
        return {
          status: 200,
          text,
          contentType: type,
          headers: { ...DOCS_HEADERS, "Cache-Control": "public, max-age=3600" },
        };
      },
    },
  ];
}
