/**
 * Fuzzing the edges (fast-check, seeded and bounded): every route of the route table
 * the server really uses (ADMIN_TOKEN set, so the admin routes exist) and every
 * method of the gRPC service get malformed path parameters, query values, headers,
 * bodies and metadata. Every answer must be the client's mistake (4xx, or the
 * route's success), never a server fault, and the process answers /healthz after.
 * A failure prints the seed and the shrunk request that broke it.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import fc from "fast-check";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import type { Route } from "../src/server/routes.js";
import { freePort } from "./helpers/privatePostgres.js";
import { startTestServer, type TestServer } from "./helpers/server.js";

const SEED = 20261207;
const RUNS_PER_ROUTE = 40;
const RUNS_PER_METHOD = 60;
const ADMIN_TOKEN = "f".repeat(40);

// ---- values a hostile client sends ----
const printable = (maxLength = 40) =>
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength });
const numberish = fc.constantFrom(
  "0",
  "-1",
  "1",
  "7",
  "1e3",
  "0x10",
  "1.5",
  " 1",
  "99999999999999999999",
  "9007199254740993",
  "NaN",
  "Infinity",
);
const dateish = fc.constantFrom(
  "2020-01-01",
  "2030-01-01T00:00:00Z",
  "2026-01-01",
  "2026-01-01T00:00:00Z",
  "2026-13-01",
  "2026-01-32",
  "99999-01-01",
  "yesterday",
  "2026-01-01T25:00:00Z",
  "2026-02-30",
  "0000-01-01",
  "10000-01-01",
);
const malformedEncoding = fc.constantFrom("%", "%E0%A4%A", "%ff", "%c0", "%00", "%zz", "%2F", "%%");
const hostileString = fc.oneof(printable(), numberish, dateish, malformedEncoding, fc.constantFrom("__proto__", ""));
/** text no header can carry: control characters, a lone surrogate, an escape sequence */
const controlish = fc.constantFrom("a\u0000b", "\ud800", "two\nlines", "\u001b[31mred", "tab\there", "\u202eevil");
const jsonValue = fc.oneof(
  { arbitrary: fc.constantFrom(1, 2, 7, 8, 100, 5000), weight: 8 },
  { arbitrary: fc.constantFrom("correction", "7", "1"), weight: 4 },
  controlish,
  fc.integer(),
  fc.double(),
  fc.constantFrom(0, -1, 2 ** 53, -(2 ** 53), 1e308, 2 ** 63, 0.5),
  printable(),
  numberish,
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(printable(8), fc.integer(), { maxKeys: 3 }),
);

// ---- HTTP ----
/** The fields a schema knows (from its JSON Schema: objects, refined or not). */
const keysOf = (schema: z.ZodType | undefined): string[] =>
  schema
    ? Object.keys((z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }).properties ?? {}) as object)
    : [];

function pathOf(route: Route): fc.Arbitrary<string> {
  const names = [...route.path.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!);
  const segment = fc.oneof(
    malformedEncoding,
    numberish,
    printable(20).map(encodeURIComponent),
    fc.constantFrom("__proto__", "constructor", "swagger-ui.css"),
  );
  return fc.tuple(...names.map(() => segment)).map((values) => {
    let i = 0;
    return route.path.replace(/\{[a-z_]+\}/g, () => values[i++]!);
  });
}

function queryOf(route: Route): fc.Arbitrary<string> {
  const keys = keysOf(route.query);
  // a long poll waits at most 1 s here: the fuzz is about answers, not waiting
  const value = (k: string) =>
    k === "wait"
      ? fc.constantFrom("", "0", "1", "-1", "31", "abc", "1e1")
      : fc.oneof({ arbitrary: fc.constantFrom("1", "2", "7", "10"), weight: 3 }, dateish, hostileString);
  const known = fc.record(Object.fromEntries(keys.map((k) => [k, fc.option(value(k), { freq: 3 })])));
  // a key it does not know, or one it knows given twice
  const extra = fc.option(fc.tuple(fc.constantFrom(...keys, "page", "__proto__", "x"), hostileString), { freq: 4 });
  const encode = (v: string) => (v.startsWith("%") ? v : encodeURIComponent(v));
  return fc
    .tuple(known, extra)
    .map(([k, e]) =>
      [...Object.entries(k).filter(([, v]) => v !== null), ...(e ? [e] : [])]
        .map(([n, v]) => `${n}=${encode(v!)}`)
        .join("&"),
    );
}

function bodyOf(route: Route): fc.Arbitrary<string | undefined> {
  const keys = keysOf(route.body);
  const shaped = fc
    .tuple(
      fc.record(Object.fromEntries(keys.map((k) => [k, fc.option(jsonValue, { freq: 6 })]))),
      fc.option(fc.tuple(fc.constantFrom("extra", "__proto__", ...keys), jsonValue), { freq: 4 }),
    )
    .map(([known, extra]) =>
      JSON.stringify({
        ...Object.fromEntries(Object.entries(known).filter(([, v]) => v !== null)),
        ...Object.fromEntries(extra ? [extra] : []),
      }),
    );
  return fc.oneof(
    { arbitrary: shaped, weight: 4 },
    fc.json().map((j) => j),
    printable(),
    fc.constantFrom(undefined, "", "{", "[]", "null", '{"amount":1}{"amount":2}', '{"__proto__":{"amount":1}}'),
  );
}

const authorization = (admin: boolean) =>
  fc.oneof(
    { arbitrary: fc.constant(admin ? `Bearer ${ADMIN_TOKEN}` : "7"), weight: 12 },
    fc.constantFrom(undefined, "8", "0", "-7", "99999999999999999999", "Bearer x", `Bearer ${ADMIN_TOKEN}`, "7, 8"),
    printable(),
  );

function headersOf(route: Route) {
  return fc
    .record(
      {
        authorization: authorization(Boolean(route.admin)),
        "idempotency-key": fc.oneof(printable(), printable(300)),
        "x-request-id": printable(200),
        "x-actor": fc.oneof(fc.constant("fuzzer"), printable(250)),
        "content-type": fc.constantFrom(
          "application/json",
          "text/plain",
          "application/json; charset=latin1",
          "",
          "*/*",
        ),
      },
      { requiredKeys: ["authorization", "x-actor"] },
    )
    .map((h) => Object.fromEntries(Object.entries(h).filter(([, v]) => v !== undefined)) as Record<string, string>);
}

// ---- the server ----
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer({
    ADMIN_TOKEN,
    GRPC_PORT: String(await freePort()),
    RATE_LIMIT_RPS: "1000000",
    RATE_LIMIT_BURST: "10000000",
  });
});
afterAll(() => s?.stop());

async function send(route: Route, path: string, query: string, headers: Record<string, string>, body?: string) {
  const url = `${s.url}${path}${query ? `?${query}` : ""}`;
  const res = await request(url, { method: route.method, headers, body: route.method === "POST" ? body : undefined });
  const text = await res.body.text();
  return { status: res.statusCode, text };
}

describe("every route", () => {
  it("answers malformed path parameters, queries, headers and bodies with 4xx or success, never 5xx", async () => {
    const routes = s.routes;
    expect(routes.some((r) => r.admin)).toBe(true); // the admin routes are in the table
    for (const route of routes) {
      const input = fc.record({
        path: pathOf(route),
        query: queryOf(route),
        headers: headersOf(route),
        body: bodyOf(route),
      });
      await fc.assert(
        fc.asyncProperty(input, async (r) => {
          const a = await send(route, r.path, r.query, r.headers, r.body);
          expect(a.status, `${route.method} ${route.path}: ${a.text}`).toBeLessThan(500);
        }),
        { seed: SEED, numRuns: RUNS_PER_ROUTE },
      );
    }
    expect((await request(`${s.url}/healthz`)).statusCode).toBe(200);
  });
});

// ---- gRPC ----
const pkg = protoLoader.loadSync("proto/wallet/v1/wallet.proto", {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: false,
});
const service = pkg["wallet.v1.WalletService"] as grpc.ServiceDefinition;
type Field = { name: string; type: string };
const fieldsOf = (m: grpc.MethodDefinition<unknown, unknown>) =>
  (m as unknown as { requestType: { type: { field: Field[] } } }).requestType.type.field;

function fieldValue(f: Field): fc.Arbitrary<unknown> {
  if (f.type === "TYPE_STRING") return fc.oneof(hostileString, fc.string({ unit: "binary", maxLength: 30 }));
  if (f.type === "TYPE_ENUM") return fc.oneof(fc.integer({ min: -5, max: 10 }), printable(20));
  return fc.oneof(
    fc.integer(),
    fc.constantFrom(0, -1, 1, 2 ** 53, -(2 ** 53), 2 ** 31, "9223372036854775807", "-9223372036854775808"),
  );
}

/** The request's bytes: a message of fuzzed fields, or bytes that are no message at all. */
function messageOf(m: grpc.MethodDefinition<unknown, unknown>): fc.Arbitrary<Buffer> {
  const fields = fieldsOf(m);
  const shaped = fc
    .record(Object.fromEntries(fields.map((f) => [f.name, fieldValue(f)])), { requiredKeys: [] })
    .map((req) => {
      try {
        return m.requestSerialize(req);
      } catch {
        return Buffer.from(JSON.stringify(req)); // the client could not encode it: send it as it is
      }
    });
  return fc.oneof(
    { arbitrary: shaped, weight: 3 },
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  );
}

const metadataOf = fc
  .record(
    {
      authorization: authorization(false),
      "idempotency-key": printable(300),
      "x-request-id": printable(200),
      "x-fuzz": printable(100),
      "x-fuzz-bin": fc.uint8Array({ maxLength: 32 }),
      padding: fc.constantFrom("", "p".repeat(9000)),
    },
    { requiredKeys: ["authorization"] },
  )
  .map((o) => {
    const md = new grpc.Metadata();
    for (const [k, v] of Object.entries(o)) if (v !== undefined) md.set(k, typeof v === "string" ? v : Buffer.from(v));
    return md;
  });

/** Statuses that say the server failed, as a 5xx does over HTTP. */
const FAULTS = new Set([grpc.status.INTERNAL, grpc.status.UNKNOWN, grpc.status.UNAVAILABLE, grpc.status.DATA_LOSS]);
const raw = (b: Buffer) => b;

describe("every gRPC method", () => {
  let client: grpc.Client;
  beforeAll(() => {
    client = new grpc.Client(`127.0.0.1:${s.config.grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(() => client?.close());

  function call(m: grpc.MethodDefinition<unknown, unknown>, message: Buffer, md: grpc.Metadata) {
    return new Promise<grpc.StatusObject>((resolve) => {
      if (m.responseStream) {
        const stream = client.makeServerStreamRequest(m.path, raw, raw, message, md, { deadline: Date.now() + 300 });
        stream.on("data", () => stream.cancel());
        stream.on("error", () => undefined);
        stream.on("status", resolve);
      } else {
        const unary = client.makeUnaryRequest(m.path, raw, raw, message, md, { deadline: Date.now() + 5000 }, () => 0);
        unary.on("status", resolve);
      }
    });
  }

  it("answers malformed messages and metadata with a refusal or success, never a server fault", async () => {
    for (const [name, m] of Object.entries(service)) {
      await fc.assert(
        fc.asyncProperty(messageOf(m), metadataOf, async (message, md) => {
          const st = await call(m, message, md);
          expect(FAULTS.has(st.code), `${name}: ${grpc.status[st.code]} ${st.details}`).toBe(false);
        }),
        { seed: SEED, numRuns: RUNS_PER_METHOD },
      );
    }
    expect((await request(`${s.url}/healthz`)).statusCode).toBe(200);
  });
});
