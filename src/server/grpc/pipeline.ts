/**
 * What every gRPC call goes through, as every HTTP request goes through app.ts:
 * request id, the metadata's size, admission (admission.ts, the same instance as
 * HTTP: authentication from the `authorization` metadata, the per-user rate limit
 * bucket, the wallet opened once per user), spans, the error mapping, metrics and
 * the request log line. Handlers only validate, call one use case and shape its answer.
 */
import { randomUUID } from "node:crypto";
import * as grpc from "@grpc/grpc-js";
import type { z } from "zod";
import { WalletError } from "../../core/errors.js";
import type { Idempotency, Outcome } from "../../core/outcome.js";
import { traced } from "../../core/tracing.js";
import { countOutcome, type Admission } from "../admission.js";
import { idempotencyOf } from "../idempotency.js";
import { withRequestId } from "../processGuard.js";
import { describeIssues } from "../schemas.js";
import type { Services } from "../services.js";
import { MALFORMED, MD, SERVICE_NAME } from "./proto.js";
import { isServerFault, statusOf, type GrpcStatus } from "./status.js";

/** maxMetadataBytes: a call's metadata (names and values) larger than this is refused */
export type Deps = { services: Services; admission: Admission; maxMetadataBytes?: number };
export type Req = Record<string, unknown>;
export type Message = Record<string, unknown>;
/** One call as its handler sees it; headers: the response metadata, sent with the answer or the status. */
export type CallInfo = { userId: number; requestId: string; metadata: grpc.Metadata; headers: grpc.Metadata };
/** operationId: the use case, named as the HTTP route names it (spans, the operations metric). */
export type Method = { operationId: string; opensWallet?: boolean };
export type Pipeline = ReturnType<typeof createPipeline>;

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A metadata value given once, as text (a repeated one counts as absent: it is no single value). */
export function single(md: grpc.Metadata, key: string): string | undefined {
  const v = md.get(key);
  return v.length === 1 && typeof v[0] === "string" ? v[0] : undefined;
}

/** The same zod schemas as HTTP, so that the same values are refused with the same words. */
export function parse<S extends z.ZodType>(schema: S, value: unknown): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) throw new WalletError("invalid_request", describeIssues(result.error));
  return result.data;
}

/** operation: the HTTP method and path the same request would have, so that a key is one key across protocols. */
export function idempotencyFrom(info: CallInfo, operation: string, fields: object): Idempotency | undefined {
  const given = info.metadata.get("idempotency-key");
  if (given.length === 0) return undefined;
  return idempotencyOf(given.length === 1 ? given[0] : undefined, operation, fields as Record<string, unknown>);
}

/** A use case's outcome: counted, marked when replayed, and its value or its refusal. */
export function settle<T>(svc: Services, kind: string, outcome: Outcome<T>, info: CallInfo): T {
  if (countOutcome(svc.metrics, kind, outcome)) info.headers.set(MD.replayed, "true");
  if (!outcome.ok) throw new WalletError(outcome.code, undefined, outcome.details);
  return outcome.value;
}

/** The size of a call's metadata as sent: every name and value (binary values in bytes). */
function metadataBytes(md: grpc.Metadata): number {
  let n = 0;
  for (const [k, values] of Object.entries(md.toJSON())) {
    for (const v of values) n += k.length + (typeof v === "string" ? Buffer.byteLength(v) : v.length);
  }
  return n;
}

export function createPipeline(deps: Deps) {
  const { services: svc, admission, maxMetadataBytes = 8192 } = deps;

  async function admit(m: Method, info: CallInfo, message: unknown): Promise<void> {
    if (metadataBytes(info.metadata) > maxMetadataBytes) {
      throw new WalletError("invalid_request", `The call's metadata is larger than ${maxMetadataBytes} bytes.`);
    }
    const request = {
      authorization: single(info.metadata, "authorization"),
      rateLimited: true,
      opensWallet: m.opensWallet,
    };
    info.userId = await admission.admit(request, (k, v) => info.headers.set(k.toLowerCase(), v));
    // as an HTTP body that is not JSON: read after admission, refused as the client's mistake
    if ((message as { [MALFORMED]?: boolean })[MALFORMED]) {
      throw new WalletError("invalid_request", "The request message is not a valid message of this method's type.");
    }
  }

  function begin(metadata: grpc.Metadata): CallInfo {
    const given = single(metadata, MD.requestId);
    const requestId = given && REQUEST_ID.test(given) ? given : randomUUID();
    const headers = new grpc.Metadata();
    headers.set(MD.requestId, requestId);
    return { userId: 0, requestId, metadata, headers };
  }

  function execute<T>(name: string, m: Method, info: CallInfo, message: unknown, fn: () => Promise<T>): Promise<T> {
    const route = `/${SERVICE_NAME}/${name}`;
    return traced(
      `gRPC ${route}`,
      { "rpc.system": "grpc", "rpc.service": SERVICE_NAME, "rpc.method": name, "wallet.request_id": info.requestId },
      async () => {
        await admit(m, info, message);
        return traced(m.operationId, { "wallet.user_id": info.userId }, fn);
      },
    );
  }

  function observe(name: string, started: number, code: grpc.status, info: CallInfo): void {
    const route = `/${SERVICE_NAME}/${name}`;
    const seconds = (performance.now() - started) / 1000;
    const status = grpc.status[code] ?? String(code);
    svc.metrics.requests.inc({ route, method: "gRPC", status });
    svc.metrics.latency.observe({ route, method: "gRPC" }, seconds);
    const fault = isServerFault(code);
    if (fault || svc.log.isLevelEnabled("debug")) {
      svc.log[fault ? "error" : "debug"](
        { requestId: info.requestId, method: "gRPC", route, status, ms: Math.round(seconds * 1e4) / 10 },
        "request",
      );
    }
  }

  const fail = (err: unknown, name: string, info: CallInfo): GrpcStatus =>
    statusOf(err, svc.log, { requestId: info.requestId, route: `/${SERVICE_NAME}/${name}` }, info.headers);

  return {
    unary(
      name: string,
      m: Method,
      fn: (req: Req, info: CallInfo) => Promise<Message>,
    ): grpc.handleUnaryCall<Req, Message> {
      return (call, callback) => {
        const started = performance.now();
        const info = begin(call.metadata);
        withRequestId(info.requestId, () => execute(name, m, info, call.request, () => fn(call.request, info))).then(
          (value) => {
            call.sendMetadata(info.headers);
            callback(null, value);
            observe(name, started, grpc.status.OK, info);
          },
          (err: unknown) => {
            const s = fail(err, name, info);
            callback(s);
            observe(name, started, s.code, info);
          },
        );
      };
    },

    /** fn writes the messages and returns how the stream ends (undefined: OK). */
    stream(
      name: string,
      m: Method,
      fn: (call: grpc.ServerWritableStream<Req, Message>, info: CallInfo) => Promise<GrpcStatus | undefined>,
    ): grpc.handleServerStreamingCall<Req, Message> {
      return (call) => {
        const started = performance.now();
        const info = begin(call.metadata);
        withRequestId(info.requestId, () =>
          execute(name, m, info, call.request, () => {
            call.sendMetadata(info.headers);
            return fn(call, info);
          }),
        ).then(
          (end) => {
            const code = call.cancelled ? grpc.status.CANCELLED : (end?.code ?? grpc.status.OK);
            if (!call.cancelled) {
              if (end) call.emit("error", end);
              else call.end();
            }
            observe(name, started, code, info);
          },
          (err: unknown) => {
            const s = fail(err, name, info);
            if (!call.cancelled) call.emit("error", s);
            observe(name, started, call.cancelled ? grpc.status.CANCELLED : s.code, info);
          },
        );
      };
    },
  };
}
