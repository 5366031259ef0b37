/**
 * The gRPC API (GRPC_PORT) of a real server on both engines, through a client built
 * from the .proto alone: answers and refusals as over HTTP, one Idempotency-Key and
 * one rate limit bucket across protocols, health, reflection, WatchEvents (resumed,
 * bounded, ended at shutdown with where to resume), and the CLI over grpc://.
 */
import { once } from "node:events";
import http2 from "node:http2";
import { createRequire } from "node:module";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { protoPath as healthProto } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deposit } from "../src/core/operations.js";
import { ERROR_CODES, type ErrorCode } from "../src/core/errors.js";
import { createAuthenticator, signToken } from "../src/server/auth.js";
import { createAdmission } from "../src/server/admission.js";
import { startGrpcServer } from "../src/server/grpc/server.js";
import { runCli } from "./helpers/cli.js";
import { freePort } from "./helpers/privatePostgres.js";
import { get, post, startTestServer, type TestServer } from "./helpers/server.js";

const S = grpc.status;
const opts = { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: false };
const load = (file: string) => grpc.loadPackageDefinition(protoLoader.loadSync(file, opts)) as any;
const walletV1 = load("proto/wallet/v1/wallet.proto").wallet.v1;
const healthV1 = load(healthProto).grpc.health.v1;
const reflectionV1 = load(
  createRequire(import.meta.url).resolve("@grpc/reflection/build/proto/grpc/reflection/v1/reflection.proto"),
).grpc.reflection.v1;
const connect = (port: number, Svc = walletV1.WalletService) =>
  new Svc(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
function meta(user?: number | string, extra: Record<string, string> = {}) {
  const md = new grpc.Metadata();
  if (user !== undefined) md.set("authorization", String(user));
  for (const [k, v] of Object.entries(extra)) md.set(k, v);
  return md;
}

type Answer = { code: number; value: any; error?: string; details: string; headers: any; trailers: any };
function rpc(c: any, method: string, user?: number | string, req = {}, extra = {}): Promise<Answer> {
  return new Promise((resolve) => {
    let value: any;
    let headers: any = {};
    const call = c[method](req, meta(user, extra), (_e: unknown, v: any) => (value = v));
    call.on("metadata", (m: grpc.Metadata) => (headers = m.getMap()));
    call.on("status", ({ code, details, metadata }: grpc.StatusObject) => {
      const trailers = metadata.getMap();
      resolve({ code, value, error: trailers["wallet-error-code"] as string, details, headers, trailers });
    });
  });
}
const ok = async (...a: Parameters<typeof rpc>) => {
  const r = await rpc(...a);
  expect(r.code, r.details).toBe(S.OK);
  return r.value;
};

/** A WatchEvents stream, its status kept whenever it comes (even before anyone reads). */
function watch(client: any, user: number | string, after: number) {
  const call = client.WatchEvents({ after }, meta(user));
  call.on("status", (st: grpc.StatusObject) => (call.final = st));
  call.on("error", () => undefined);
  return call;
}
/** Reads a stream until n events (then cancels it) or its end: the sequences, and how it ended. */
function collect(call: any, n: number): Promise<{ seqs: number[]; status?: grpc.StatusObject }> {
  const seqs: number[] = [];
  return new Promise((resolve) => {
    call.on("data", (e: any) => seqs.push(e.sequence) === n && (call.cancel(), resolve({ seqs })));
    call.on("end", () => resolve({ seqs, status: call.final }));
    call.resume();
  });
}
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_v, i) => from + i);

let s: TestServer;
let c: any;
beforeAll(async () => {
  s = await startTestServer({ GRPC_PORT: String(await freePort()) });
  c = connect(s.config.grpcPort);
});
afterAll(() => s.stop());

it("every RPC moves money and reads it back as HTTP does", async () => {
  expect(await ok(c, "Deposit", 11, { amount: 1000 })).toMatchObject({ balance: 1000 });
  expect(await ok(c, "Withdraw", 11, { amount: 100 })).toMatchObject({ balance: 900 });
  await ok(c, "GetBalance", 12);
  const t = await ok(c, "Transfer", 11, { destination_user_id: 12, amount: 50 });
  expect(t).toMatchObject({ success: true, balance: 850 });
  const a = await ok(c, "TransferAsync", 11, { destination_user_id: 12, amount: 5 });
  expect(a).toMatchObject({ success: true, status: "TRANSFER_STATUS_PENDING" });
  const g = await ok(c, "GetTransfer", 12, { transfer_id: a.transfer_id });
  const http = (await get(s.url, `/api/transfer/v2/${a.transfer_id}`, 12)).body;
  expect({ ...g, status: "pending", completed_at: null, reference: null }).toEqual(http);
  expect(await ok(c, "GetBalance", 11)).toEqual((await get(s.url, "/api/wallet/balance/v1", 11)).body);
  const past = { currency: "USD", balance: 0, available_balance: 0, at: "2000-01-01T00:00:00.000Z" };
  expect(await ok(c, "GetBalance", 11, { at: "2000-01-01" })).toEqual(past);
  const h = await ok(c, "CreateHold", 11, { amount: 40, destination_user_id: 12, expires_in_seconds: 60 });
  expect(h).toMatchObject({ status: "HOLD_STATUS_HELD", balance: 850, available_balance: 810 });
  const cap = await ok(c, "CaptureHold", 12, { hold_id: h.hold_id, amount: 30 });
  expect(cap).toMatchObject({ status: "HOLD_STATUS_CAPTURED", captured_amount: 30, balance: 820 });
  expect(cap.transfer_id).toMatch(/^\d+$/);
  const own = await ok(c, "CreateHold", 11, { amount: 7 });
  expect(own.destination_user_id).toBeUndefined();
  expect(await ok(c, "VoidHold", 11, { hold_id: own.hold_id })).toMatchObject({ status: "HOLD_STATUS_VOIDED" });
  const got = await ok(c, "GetHold", 12, { hold_id: h.hold_id });
  expect({ ...got, status: "captured", reference: null }).toEqual(
    (await get(s.url, `/api/holds/v1/${h.hold_id}`, 11)).body,
  );
  const page = await ok(c, "ListTransactions", 11, { type: "TRANSACTION_TYPE_TRANSFER", page_size: 1 });
  const httpPage = (await get(s.url, "/api/transactions/v1?type=3&page_size=1", 11)).body;
  expect(page.transactions.map((e: any) => [e.id, e.amount, e.direction])).toEqual(
    httpPage.transactions.map((e: any) => [e.id, e.amount, `DIRECTION_${e.direction.toUpperCase()}`]),
  );
  expect(page).toMatchObject({ page: 1, page_size: 1, has_more: true });
  const metrics = (await get(s.url, "/metrics")).raw.toString();
  expect(metrics).toMatch(
    /wallet_http_requests_total{route="\/wallet.v1.WalletService\/Deposit",method="gRPC",status="OK"} 1/,
  );
  expect(metrics).toMatch(/wallet_operations_total{kind="placeHold",outcome="ok"} 2/);
});

it("answers each class of refusal with its status and wallet-error-code, as HTTP does", async () => {
  const cases: [string, number | string | undefined, object, number, ErrorCode, Record<string, string>?][] = [
    ["Deposit", 21, { amount: 0 }, S.INVALID_ARGUMENT, "invalid_request"],
    ["Deposit", 21, { amount: "9007199254740992" }, S.INVALID_ARGUMENT, "invalid_request"],
    ["CreateHold", 21, { amount: 5, expires_in_seconds: 604801 }, S.INVALID_ARGUMENT, "invalid_request"],
    ["ListTransactions", 21, { page_size: 101 }, S.INVALID_ARGUMENT, "invalid_request"],
    ["GetBalance", 21, { at: "yesterday" }, S.INVALID_ARGUMENT, "invalid_request"],
    ["Deposit", 21, { amount: 5 }, S.INVALID_ARGUMENT, "invalid_request", { "idempotency-key": "k".repeat(256) }],
    ["GetBalance", undefined, {}, S.UNAUTHENTICATED, "unauthorized"],
    ["GetBalance", "Bearer x", {}, S.UNAUTHENTICATED, "unauthorized"],
    ["GetTransfer", 21, { transfer_id: "123" }, S.NOT_FOUND, "not_found"],
    ["GetHold", 21, { hold_id: "nope" }, S.NOT_FOUND, "not_found"],
    ["Transfer", 21, { destination_user_id: 987654, amount: 1 }, S.NOT_FOUND, "wallet_not_found"],
    ["Withdraw", 21, { amount: 1000 }, S.FAILED_PRECONDITION, "insufficient_funds"],
    ["Transfer", 21, { destination_user_id: 21, amount: 1 }, S.FAILED_PRECONDITION, "same_wallet"],
  ];
  await ok(c, "Deposit", 21, { amount: 100 });
  for (const [method, user, req, code, error, extra] of cases) {
    const r = await rpc(c, method, user, req, extra);
    expect([method, r.code, r.error], r.details).toEqual([method, code, error]);
    expect(r.details).not.toMatch(/select|at .*\.js/i);
  }
  await ok(c, "Deposit", 22, { amount: 100 });
  const h = await ok(c, "CreateHold", 22, { amount: 50, destination_user_id: 21 });
  const refused = async (m: string, user: number, req: object) => {
    const r = await rpc(c, m, user, { hold_id: h.hold_id, ...req });
    return [r.code, r.error];
  };
  expect(await refused("CaptureHold", 22, {})).toEqual([S.PERMISSION_DENIED, "forbidden"]);
  expect(await refused("CaptureHold", 21, { amount: 51 })).toEqual([S.FAILED_PRECONDITION, "amount_exceeds_hold"]);
  await ok(c, "VoidHold", 21, { hold_id: h.hold_id });
  expect(await refused("VoidHold", 21, {})).toEqual([S.ABORTED, "hold_not_active"]);
});

it("answers INTERNAL without SQL when the database fails a statement", async () => {
  const h = await ok(c, "CreateHold", 22, { amount: 1 });
  await s.services.ctx.db.query("alter table holds rename to holds_away");
  const r = await rpc(c, "GetHold", 22, { hold_id: h.hold_id }).finally(() =>
    s.services.ctx.db.query("alter table holds_away rename to holds"),
  );
  expect([r.code, r.error, r.details]).toEqual([S.INTERNAL, "internal", ERROR_CODES.internal.message]);
});

it("shares Idempotency-Keys with HTTP: replays the same operation whichever protocol carries it, and refuses a different one", async () => {
  const key = { "idempotency-key": "shared-1" };
  const first = await post(s.url, "/api/deposit/v1", 31, { amount: 100 }, key);
  const replay = await rpc(c, "Deposit", 31, { amount: 100 }, key);
  expect([replay.value, replay.headers["idempotent-replayed"]]).toEqual([first.body, "true"]);
  const reused = await rpc(c, "Deposit", 31, { amount: 101 }, key);
  expect([reused.code, reused.error]).toEqual([S.FAILED_PRECONDITION, "idempotency_key_reused"]);
  const hk = { "idempotency-key": "shared-2" };
  const h = await ok(c, "CreateHold", 31, { amount: 10 }, hk); // optional fields absent: absent from the hash
  const hr = await post(s.url, "/api/holds/v1", 31, { amount: 10 }, hk);
  expect([hr.body.hold_id, hr.headers["idempotent-replayed"]]).toEqual([h.hold_id, "true"]);
  const ck = { "idempotency-key": "shared-3" };
  const cap = await post(s.url, `/api/holds/v1/${h.hold_id}/capture`, 31, { amount: 4 }, ck);
  const again = await rpc(c, "CaptureHold", 31, { hold_id: h.hold_id, amount: 4 }, ck);
  expect(again.value.transaction_id).toBe(cap.body.transaction_id);
  expect((await rpc(c, "CaptureHold", 31, { hold_id: h.hold_id }, ck)).error).toBe("idempotency_key_reused");
  expect((await get(s.url, "/api/wallet/balance/v1", 31)).body.balance).toBe(96);
});

it("serves grpc.health.v1 and lists the services by reflection", async () => {
  const health = connect(s.config.grpcPort, healthV1.Health);
  for (const service of ["", "wallet.v1.WalletService"])
    expect((await rpc(health, "Check", undefined, { service })).value).toEqual({ status: "SERVING" });
  const r = connect(s.config.grpcPort, reflectionV1.ServerReflection).ServerReflectionInfo();
  const names = new Promise<string[]>((resolve) =>
    r.on("data", (m: any) => resolve(m.list_services_response.service.map((x: any) => x.name))),
  );
  r.write({ list_services: "" });
  expect(await names).toEqual(expect.arrayContaining(["wallet.v1.WalletService", "grpc.health.v1.Health"]));
  r.end();
});

it("WatchEvents streams old then new events, and resumes after a disconnect with no gap and no repeat", async () => {
  for (let i = 0; i < 5; i++) await ok(c, "Deposit", 41, { amount: 10 + i });
  const first = collect(watch(c, 41, 0), 7);
  setTimeout(() => void ok(c, "Withdraw", 41, { amount: 1 }).then(() => ok(c, "Withdraw", 41, { amount: 2 })), 200);
  const a = await first;
  expect(a.seqs).toEqual(range(1, 7));
  for (let i = 0; i < 3; i++) await ok(c, "Deposit", 41, { amount: 1 }); // while nobody watches
  const b = await collect(watch(c, 41, a.seqs.at(-1)!), 3);
  expect(b.seqs).toEqual(range(8, 10));
});

// grpc-js's client keeps reading into its own memory even when paused, so the
// watcher that stops reading is a bare HTTP/2 stream: its flow control window fills
it("WatchEvents bounds a watcher that stops reading, ends it with where to resume, and the resume has everything", async () => {
  const admission = createAdmission({ services: s.services, authenticate: createAuthenticator("userid") });
  const same = { services: s.services, admission, host: "127.0.0.1", port: 0 };
  const g = await startGrpcServer({ ...same, watch: { stallMs: 1000 } });
  const session = http2.connect(`http://127.0.0.1:${g.port}`, { settings: { initialWindowSize: 16384 } });
  const stream = session.request({
    ...{ ":method": "POST", ":path": "/wallet.v1.WalletService/WatchEvents", authorization: "42" },
    ...{ "content-type": "application/grpc", te: "trailers" },
  });
  const { requestSerialize, responseDeserialize } = walletV1.WalletService.service.WatchEvents;
  const body = requestSerialize({ after: 0 });
  stream.end(Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]));
  stream.pause();
  const N = 3000;
  let most = 0;
  for (let i = 0; i < N; i += 200) {
    await Promise.all(range(1, 200).map(() => deposit(s.services.ctx, { userId: 42, amount: 1 })));
    most = Math.max(most, g.watchers.buffered);
  }
  expect(most).toBeLessThanOrEqual(16); // the stream's high-water mark: the rest waits in the database
  while (g.watchers.count > 0) await new Promise((r) => setTimeout(r, 100)); // ended by the server
  const seqs: number[] = [];
  let bytes = Buffer.alloc(0);
  stream.on("data", (chunk: Buffer) => {
    for (bytes = Buffer.concat([bytes, chunk]); bytes.length >= 5 && bytes.length >= 5 + bytes.readUInt32BE(1);) {
      const n = bytes.readUInt32BE(1);
      seqs.push(responseDeserialize(bytes.subarray(5, 5 + n)).sequence);
      bytes = bytes.subarray(5 + n);
    }
  });
  stream.resume();
  const [trailers] = await once(stream, "trailers");
  session.close();
  const resume = Number(trailers["wallet-resume-after"]);
  expect([trailers["grpc-status"], seqs]).toEqual([String(S.RESOURCE_EXHAUSTED), range(1, resume)]);
  expect(resume).toBeLessThan(N);
  const rest = await collect(watch(c, 42, resume), N - resume);
  expect(rest.seqs).toEqual(range(resume + 1, N));
  await g.close(1000);
}, 120_000);

describe("token auth, the shared rate limit bucket, shutdown", () => {
  const SECRET = "t".repeat(40);
  let t: TestServer;
  beforeAll(async () => {
    const env = { AUTH_MODE: "token", AUTH_SECRET: SECRET, RATE_LIMIT_RPS: "1", RATE_LIMIT_BURST: "3" };
    t = await startTestServer({ ...env, GRPC_PORT: String(await freePort()) });
  });
  afterAll(() => t.stop());

  it("takes bearer tokens, shares each user's bucket with HTTP, tells watchers where to resume", async () => {
    const tc = connect(t.config.grpcPort);
    const bearer = `Bearer ${await signToken(SECRET, 51, 60)}`;
    const forged = `Bearer ${await signToken("x".repeat(40), 51, 60)}`;
    for (const wrong of ["51", forged]) expect((await rpc(tc, "GetBalance", wrong)).error).toBe("unauthorized");
    const r = await rpc(tc, "Deposit", bearer, { amount: 9 });
    expect([r.value.balance, r.headers["ratelimit-limit"]]).toEqual([9, "3"]);
    expect((await get(t.url, "/api/wallet/balance/v1", bearer)).status).toBe(200);
    const call = watch(tc, bearer, 0);
    await new Promise((r) => call.once("metadata", r)); // admitted: it has taken its token
    const watching = collect(call, 99);
    await once(call, "data"); // it has the deposit's event: the shutdown comes after it
    const { code, error, trailers } = await rpc(tc, "GetBalance", bearer);
    expect([code, error, trailers["retry-after"]]).toEqual([S.RESOURCE_EXHAUSTED, "rate_limited", "1"]);
    expect((await get(t.url, "/api/wallet/balance/v1", bearer)).status).toBe(429);
    await t.close();
    const { seqs, status } = await watching;
    const md = status?.metadata.getMap();
    expect([seqs, status?.code, md?.["wallet-error-code"], md?.["wallet-resume-after"]]).toEqual([
      ...[[1], S.UNAVAILABLE, "unavailable", "1"],
    ]);
  });
});

it("runs the CLI over grpc://, printing what it prints over HTTP", async () => {
  await ok(c, "Deposit", 61, { amount: 1234 });
  const G = `grpc://127.0.0.1:${s.config.grpcPort}`;
  const balance = (api: string) => runCli(["balance", "--user", "61", "--api", api, "--json"]);
  const [viaGrpc, viaHttp] = [await balance(G), await balance(s.url)];
  expect([viaGrpc.code, viaGrpc.stdout]).toEqual([0, viaHttp.stdout]);
  expect(viaGrpc.json).toEqual({
    currency: "USD",
    balance: 1234,
    available_balance: 1234,
    version: 1,
    credit_limit: 0,
  });
  const refused = await runCli(["withdraw", "99999", "--user", "61", "--api", G]);
  expect([refused.code, refused.stderr]).toEqual([1, expect.stringContaining("insufficient_funds")]);
});
