/** Token auth, metrics, logs, the OpenAPI document and tracing spans. */
import { SignJWT } from "jose";
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError, resolveConfig } from "../src/core/config.js";
import { runCli } from "./helpers/cli.js";
import { freshDatabase } from "./helpers/db.js";
import { startProcess } from "./helpers/process.js";
import { call, get, post, startTestServer, type TestServer } from "./helpers/server.js";

const SECRET = "a-test-secret-that-is-long-enough-32";

describe("token auth", () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startTestServer({ AUTH_MODE: "token", AUTH_SECRET: SECRET });
  });
  afterAll(() => s.stop());

  const sign = (claims: { sub?: string; exp?: number }, secret = SECRET, alg = "HS256") => {
    let jwt = new SignJWT({}).setProtectedHeader({ alg }).setIssuedAt();
    if (claims.sub !== undefined) jwt = jwt.setSubject(claims.sub);
    if (claims.exp !== undefined) jwt = jwt.setExpirationTime(claims.exp);
    return jwt.sign(new TextEncoder().encode(secret));
  };
  const now = () => Math.floor(Date.now() / 1000);

  it("accepts a valid token, including one from `wallet token`", async () => {
    const token = await sign({ sub: "9", exp: now() + 60 });
    const r = await post(s.url, "/api/deposit/v1", `Bearer ${token}`, { amount: 5 });
    expect(r.status).toBe(200);
    const cli = await runCli(["token", "--user", "9", "--json"], { AUTH_SECRET: SECRET });
    const b = await get(s.url, "/api/wallet/balance/v1", `Bearer ${cli.json.token}`);
    expect(b.body).toEqual({ currency: "USD", balance: 5, available_balance: 5, version: 1, credit_limit: 0 });
  });

  it("refuses missing, malformed, wrongly signed, expired, subject-less and bare-user-id credentials", async () => {
    const cases: Array<[string, string | undefined]> = [
      ["missing", undefined],
      ["bare user id", "9"],
      ["malformed", "Bearer not.a.jwt"],
      ["garbage", "Bearer %%%"],
      ["wrong secret", `Bearer ${await sign({ sub: "9", exp: now() + 60 }, "another-secret-that-is-long-enough!!")}`],
      ["expired", `Bearer ${await sign({ sub: "9", exp: now() - 10 })}`],
      ["no exp", `Bearer ${await sign({ sub: "9" })}`],
      ["no sub", `Bearer ${await sign({ exp: now() + 60 })}`],
      ["bad sub", `Bearer ${await sign({ sub: "0", exp: now() + 60 })}`],
      [
        "alg none",
        `Bearer ${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(`{"sub":"9","exp":${now() + 60}}`).toString("base64url")}.`,
      ],
      ["HS512", `Bearer ${await sign({ sub: "9", exp: now() + 60 }, SECRET, "HS512")}`],
    ];
    for (const [name, header] of cases) {
      const r = await call(s.url, "POST", "/api/deposit/v1", {
        body: { amount: 1 },
        headers: header ? { authorization: header } : {},
      });
      expect(r.status, name).toBe(401);
      expect(r.body.error.code).toBe("unauthorized");
    }
    expect(
      (await get(s.url, "/api/wallet/balance/v1", `Bearer ${await sign({ sub: "9", exp: now() + 60 })}`)).body,
    ).toEqual({ currency: "USD", balance: 5, available_balance: 5, version: 1, credit_limit: 0 });
  });

  it("refuses to start in token mode without an adequate secret", async () => {
    expect(() => resolveConfig({ AUTH_MODE: "token" })).toThrow(ConfigError);
    expect(() => resolveConfig({ AUTH_MODE: "token", AUTH_SECRET: "short" })).toThrow(/at least 32/);
    const r = await runCli(["serve"], { AUTH_MODE: "token", AUTH_SECRET: "short", WALLET_DATA_DIR: "memory://" });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/AUTH_SECRET/);
  });

  it("refuses a read replica for the embedded database, with a clear message", async () => {
    expect(() => resolveConfig({ DATABASE_READ_URL: "postgres://replica/wallet" })).toThrow(/needs DATABASE_URL/);
    const r = await runCli(["serve"], {
      DATABASE_URL: "",
      DATABASE_READ_URL: "postgres://127.0.0.1:1/x",
      WALLET_DATA_DIR: "memory://",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/DATABASE_READ_URL needs DATABASE_URL/);
  });
});

describe("metrics, OpenAPI, tracing", () => {
  let s: TestServer;
  const exporter = new InMemorySpanExporter();
  beforeAll(async () => {
    const cm = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(cm);
    trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
    s = await startTestServer({ RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "2" });
  });
  afterAll(async () => {
    await s.stop();
    trace.disable();
    context.disable();
  });

  const metric = (text: string, line: string) =>
    Number(new RegExp(`^${line.replace(/[{}"/.]/g, "\\$&")} (\\S+)$`, "m").exec(text)?.[1] ?? 0);

  it("counts requests, operations, rate limits and exposes queue and pool gauges", async () => {
    const before = (await get(s.url, "/metrics")).raw.toString();
    await post(s.url, "/api/deposit/v1", 1, { amount: 10 });
    await post(s.url, "/api/withdraw/v1", 1, { amount: 100 });
    // the bucket of 2 is empty: of 4 at once, at least 3 are refused
    await Promise.all([1, 2, 3, 4].map(() => get(s.url, "/api/wallet/balance/v1", 1)));
    // another user's bucket: a miss, then a hit (the cache follows the database's change feed)
    expect((await get(s.url, "/api/wallet/balance/v1", 2)).status).toBe(200);
    expect((await get(s.url, "/api/wallet/balance/v1", 2)).status).toBe(200);
    const after = (await get(s.url, "/metrics")).raw.toString();
    const req = 'wallet_http_requests_total{route="/api/deposit/v1",method="POST",status="200"}';
    expect(metric(after, req) - metric(before, req)).toBe(1);
    expect(metric(after, 'wallet_operations_total{kind="withdraw",outcome="insufficient_funds"}')).toBe(1);
    expect(metric(after, "wallet_rate_limited_total")).toBeGreaterThanOrEqual(3);
    expect(after).toMatch(/^wallet_http_request_duration_seconds_bucket\{.*route="\/api\/deposit\/v1"/m);
    expect(after).toMatch(/^wallet_async_queue_depth 0$/m);
    expect(after).toMatch(/^wallet_async_oldest_pending_seconds /m);
    expect(after).toMatch(/^process_resident_memory_bytes /m);
    const hit = 'wallet_cache_requests_total{result="hit"}';
    const miss = 'wallet_cache_requests_total{result="miss"}';
    expect(metric(after, miss) - metric(before, miss)).toBeGreaterThanOrEqual(1);
    expect(metric(after, hit) - metric(before, hit)).toBeGreaterThanOrEqual(1);
  });

  it("publishes a valid OpenAPI 3.1 document listing every route the server serves", async () => {
    const doc = (await get(s.url, "/openapi.json")).body;
    expect(doc.openapi).toBe("3.1.0");
    const result = await new Validator().validate(doc);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const r of s.routes)
      expect(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path}`).toBeDefined();
    const n = Object.values(doc.paths as Record<string, object>).reduce((sum, p) => sum + Object.keys(p).length, 0);
    expect(n).toBe(s.routes.length);
    const body = doc.paths["/api/transfer/v1"].post.requestBody.content["application/json"].schema;
    expect(body.required).toEqual(["destination_user_id", "amount"]);
    expect(body.properties.amount).toMatchObject({ type: "integer", minimum: 1, maximum: Number.MAX_SAFE_INTEGER });
  });

  it("makes spans for the request, the use case and each database call", async () => {
    exporter.reset();
    await new Promise((r) => setTimeout(r, 1100)); // a token for the bucket
    const r = await get(s.url, "/api/transactions/v1", 2);
    expect(r.status).toBe(200);
    const spans = exporter.getFinishedSpans();
    const names = spans.map((sp) => sp.name);
    expect(names).toContain("GET /api/transactions/v1");
    expect(names).toContain("history");
    const server = spans.find((sp) => sp.name === "GET /api/transactions/v1")!;
    const useCase = spans.find((sp) => sp.name === "history")!;
    expect(useCase.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    const query = spans.find(
      (sp) => sp.name === "db.query" && sp.parentSpanContext?.spanId === useCase.spanContext().spanId,
    );
    expect(query?.attributes["db.statement"]).toMatch(/from journal/);
  });
});

describe("logs", () => {
  it("carry the request id on request lines and never the Authorization value", async () => {
    const db = await freshDatabase();
    const p = await startProcess("serve", { ...db.env, LOG_LEVEL: "debug", AUTH_MODE: "token", AUTH_SECRET: SECRET });
    try {
      const token = (await runCli(["token", "--user", "3", "--json"], { AUTH_SECRET: SECRET })).json.token as string;
      await post(p.url, "/api/deposit/v1", `Bearer ${token}`, { amount: 5 }, { "x-request-id": "req-logs-1" });
      await get(p.url, "/api/wallet/balance/v1", `Bearer ${token}.tampered`, { "x-request-id": "req-logs-2" });
      await new Promise((r) => setTimeout(r, 200));
    } finally {
      await p.stop();
      await db.drop();
    }
    const lines = p.logs.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const requests = lines.filter((l) => l.msg === "request");
    expect(requests.map((l) => l.requestId)).toEqual(expect.arrayContaining(["req-logs-1", "req-logs-2"]));
    for (const l of requests) expect(l.requestId).toBeTruthy();
    expect(p.logs.join("\n")).not.toMatch(/Bearer|eyJ/);
  });
});
