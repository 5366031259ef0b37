/**
 * The gRPC server of `wallet serve` (GRPC_PORT): wallet.v1.WalletService on the same
 * core, authenticator and rate limiter as the HTTP API, with the standard health
 * service (grpc.health.v1.Health, NOT_SERVING while the database does not answer or
 * the server is stopping) and server reflection. Stopped like the HTTP server: no new
 * calls, calls in flight answered, watchers ended with where to resume, then forced.
 * Connections are bounded (GrpcLimits, in configuration): the preface within a time
 * (listener.ts), then idle, age, keepalive, streams and metadata limits.
 */
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation, protoPath as healthProtoPath } from "grpc-health-check";
import type { GrpcLimits } from "../../core/config.js";
import { ping } from "../../core/store/maintenance.js";
import { batchHandlers } from "./batch.js";
import { fxHandlers } from "./fx.js";
import { limitHandlers } from "./limits.js";
import { holdHandlers } from "./holds.js";
import { moneyHandlers } from "./money.js";
import { listenGrpc } from "./listener.js";
import { createPipeline, type Deps } from "./pipeline.js";
import { loadWalletPackage, LOAD_OPTIONS, SERVICE_NAME, walletService } from "./proto.js";
import { watchHandler, Watchers, type WatchOptions } from "./watch.js";

export type GrpcServerOptions = Deps & {
  host: string;
  port: number;
  watch?: Partial<WatchOptions>;
  /** connection limits; each one not given: its default in configuration */
  limits?: Partial<GrpcLimits>;
};

/** The defaults of configuration (core/config.ts), for callers that give none. */
export const GRPC_LIMIT_DEFAULTS: GrpcLimits = {
  handshakeTimeoutMs: 10_000,
  maxConnectionIdleMs: 120_000,
  maxConnectionAgeMs: 1_800_000,
  maxConnectionAgeGraceMs: 60_000,
  keepaliveTimeMs: 60_000,
  keepaliveTimeoutMs: 20_000,
  maxConcurrentStreams: 100,
  maxMetadataBytes: 8192,
  maxSessionMemoryMb: 32,
};

export type GrpcServer = {
  port: number;
  /** the open WatchEvents streams: how many, and the messages they hold unsent */
  watchers: Pick<Watchers, "count" | "buffered">;
  close(timeoutMs: number): Promise<void>;
};

// as the HTTP body cap: a request message larger than any the API needs is refused
const MAX_REQUEST_BYTES = 64 * 1024;
const HEALTH_EVERY_MS = 5000;

export async function startGrpcServer(o: GrpcServerOptions): Promise<GrpcServer> {
  const svc = o.services;
  const pkg = loadWalletPackage();
  const limits = { ...GRPC_LIMIT_DEFAULTS, ...o.limits };
  const server = new grpc.Server({
    "grpc.max_receive_message_length": MAX_REQUEST_BYTES,
    // no channelz service is served: its per-call bookkeeping would be work for nobody
    "grpc.enable_channelz": 0,
    // dead peers are found and their watchers ended
    "grpc.keepalive_time_ms": limits.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": limits.keepaliveTimeoutMs,
    // a connection without calls is closed; every connection is asked to go after a while
    "grpc.max_connection_idle_ms": limits.maxConnectionIdleMs,
    "grpc.max_connection_age_ms": limits.maxConnectionAgeMs,
    "grpc.max_connection_age_grace_ms": limits.maxConnectionAgeGraceMs,
    "grpc.max_concurrent_streams": limits.maxConcurrentStreams,
    "grpc-node.max_session_memory": limits.maxSessionMemoryMb,
  });
  const pipeline = createPipeline({ ...o, maxMetadataBytes: limits.maxMetadataBytes });
  const watchers = new Watchers();
  server.addService(walletService(pkg), {
    ...moneyHandlers(pipeline, svc),
    ...holdHandlers(pipeline, svc),
    ...fxHandlers(pipeline, svc),
    ...batchHandlers(pipeline, svc),
    ...limitHandlers(pipeline, svc),
    WatchEvents: watchHandler(pipeline, svc, watchers, { stallMs: 30_000, pageSize: 100, ...o.watch }),
  });

  const health = new HealthImplementation({ "": "SERVING", [SERVICE_NAME]: "SERVING" });
  health.addToServer(server);
  const setHealth = (up: boolean) => {
    for (const name of ["", SERVICE_NAME]) health.setStatus(name, up ? "SERVING" : "NOT_SERVING");
  };
  // reflection describes the health service too, so that tools can call it without its .proto
  new ReflectionService({ ...pkg, ...protoLoader.loadSync(healthProtoPath, LOAD_OPTIONS) }).addToServer(server);

  const listener = await listenGrpc({
    host: o.host,
    port: o.port,
    injector: server.createConnectionInjector(grpc.ServerCredentials.createInsecure()),
    handshakeTimeoutMs: limits.handshakeTimeoutMs,
    onRefused: (reason) => svc.metrics.grpcConnectionsRefused.inc({ reason }),
    onError: (err) => svc.log.warn({ err: err.message }, "gRPC listener could not accept a connection"),
  });
  const port = listener.port;

  let closing = false;
  // readiness as /readyz judges it: the database answers
  const probe = setInterval(() => {
    ping(svc.ctx.db, 1000).then(
      () => !closing && setHealth(true),
      () => !closing && setHealth(false),
    );
  }, HEALTH_EVERY_MS);
  probe.unref();

  return {
    port,
    watchers,
    async close(timeoutMs) {
      closing = true;
      clearInterval(probe);
      setHealth(false);
      watchers.close();
      listener.stopAccepting();
      await new Promise<void>((resolve) => {
        let done = false;
        const finish = () => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          resolve();
        };
        const timer = setTimeout(() => {
          server.forceShutdown();
          finish();
        }, timeoutMs);
        server.tryShutdown(finish);
      });
      listener.destroyAll();
    },
  };
}
