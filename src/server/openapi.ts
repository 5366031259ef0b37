/** The OpenAPI 3.1 document, made from the route table and its schemas. */
import { z } from "zod";
import { ERROR_CODES, type ErrorCode } from "../core/errors.js";
import { routeRefusals, type Route } from "./routes.js";
import { ErrorResponse } from "./schemas.js";

function jsonSchema(schema: z.ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}

function queryParameters(schema: z.ZodType): unknown[] {
  const js = jsonSchema(schema, "input") as {
    properties?: Record<string, Record<string, unknown>>;
    required?: string[];
  };
  return Object.entries(js.properties ?? {}).map(([name, prop]) => ({
    name,
    in: "query",
    required: js.required?.includes(name) ?? false,
    schema: prop,
  }));
}

export function buildOpenApi(routes: Route[], opts: { authMode: "userid" | "token"; serverUrl?: string }) {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const parameters: unknown[] = [];
    for (const m of r.path.matchAll(/\{([a-z_]+)\}/g)) {
      parameters.push({ name: m[1], in: "path", required: true, schema: { type: "string", pattern: "^[0-9]+$" } });
    }
    if (r.query) parameters.push(...queryParameters(r.query));
    if (r.admin) {
      parameters.push({
        name: "X-Actor",
        in: "header",
        required: true,
        description: "The person acting; recorded in the audit log.",
        schema: { type: "string", minLength: 1, maxLength: 200 },
      });
    }
    if (r.method === "POST") {
      parameters.push({
        name: "Idempotency-Key",
        in: "header",
        required: false,
        description: "Retry safely: the same key with the same body replays the first answer (kept 24 h).",
        schema: { type: "string", minLength: 1, maxLength: 255 },
      });
    }
    const responses: Record<string, unknown> = {};
    for (const [status, resp] of Object.entries(r.responses)) {
      responses[status] = {
        description: resp.description,
        ...(resp.schema
          ? { content: { [resp.contentType ?? "application/json"]: { schema: jsonSchema(resp.schema, "output") } } }
          : resp.contentType
            ? { content: { [resp.contentType]: { schema: { type: "string" } } } }
            : {}),
      };
    }
    const byStatus = new Map<number, ErrorCode[]>();
    for (const code of routeRefusals(r)) {
      const status = ERROR_CODES[code].status;
      byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
    }
    for (const [status, codes] of byStatus) {
      responses[status] = {
        description: codes.map((c) => `${c}: ${ERROR_CODES[c].message}`).join(" | "),
        content: { "application/json": { schema: jsonSchema(ErrorResponse, "output") } },
        ...(status === 429 || status === 503
          ? { headers: { "Retry-After": { description: "seconds to wait", schema: { type: "integer" } } } }
          : {}),
      };
    }
    (paths[r.path] ??= {})[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      ...(r.description ? { description: r.description } : {}),
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: true, content: { "application/json": { schema: jsonSchema(r.body, "input") } } } }
        : {}),
      responses,
      ...(r.admin ? { security: [{ admin: [] }] } : r.auth ? {} : { security: [] }),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "wallet",
      version: "1.0.0",
      description:
        "A wallet service holding users' money in integer cents. Every amount and balance is an integer " +
        'number of cents. Errors are `{"error": {"code", "message"}}` with these codes: ' +
        Object.keys(ERROR_CODES).join(", ") +
        ".",
    },
    servers: [{ url: opts.serverUrl ?? "/" }],
    components: {
      securitySchemes: {
        admin: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN (the admin API, /admin/v1)" },
        auth:
          opts.authMode === "token"
            ? { type: "http", scheme: "bearer", bearerFormat: "JWT" }
            : { type: "apiKey", in: "header", name: "Authorization", description: "Your user id (AUTH_MODE=userid)" },
      },
    },
    security: [{ auth: [] }],
    paths,
  };
}
