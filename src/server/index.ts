/**
 * Starts the whole service in this process: the core on its database and its
 * change feed, Redis when configured, the cache and rate limiter, the async transfer
 * workers and the HTTP server; and stops it in the reverse order.
 */
import type { AddressInfo } from "node:net";
import type { Redis } from "ioredis";
import { CachedReads } from "../core/cache/cachedReads.js";
import { MemoryCache } from "../core/cache/memoryCache.js";
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from "../core/cache/rateLimiter.js";
import { RedisCache } from "../core/cache/redisCache.js";
import type { VersionedCache } from "../core/cache/types.js";
import type { Config } from "../core/config.js";
import { openCore } from "../core/index.js";
import { markExpiredHolds } from "../core/holds.js";
import { purgeIdempotencyKeys } from "../core/purgeIdempotencyKeys.js";
import type { TransferWorkers } from "../core/worker.js";
import { createApp } from "./app.js";
import { adminRoutes } from "./adminRoutes.js";
import { createAdminAuthenticator, createAuthenticator } from "./auth.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { buildOpenApi } from "./openapi.js";
import { opsRoutes } from "./opsRoutes.js";
import { startMetricsServer } from "./metricsServer.js";
import { observeQueue } from "./queueMetrics.js";
import { observeReads } from "./readMetrics.js";
import { observeWatchers } from "./watcherMetrics.js";
import { connectRedis, redisReady } from "./redis.js";
import { holdRoutes } from "./holdRoutes.js";
import { moneyRoutes } from "./moneyRoutes.js";
import type { Route } from "./routes.js";
import type { Services } from "./services.js";
import { createRelay, createWorkers } from "./workers.js";
import { EventWaiters } from "../core/events/waiters.js";
import { startGrpcServer } from "./grpc/server.js";

export type RunningServer = {
  url: string;
  port: number;
  services: Services;
  workers: TransferWorkers;
  routes: Route[];
  close(): Promise<void>;
};

export async function startServer(
  config: Config,
  log: Logger = createLogger(config.logLevel, config.logFormat),
): Promise<RunningServer> {
  const core = await openCore(config, {
    listen: true,
    onFeedError: (err) =>
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "change feed interrupted; caches off until it is back",
      ),
  });
  const { ctx } = core;
  const metrics = createMetrics();

  let redis: Redis | undefined;
  let cache: VersionedCache;
  let limiter: RateLimiter | undefined;
  if (config.redisUrl) {
    redis = connectRedis(config.redisUrl, log);
    await redisReady(redis, 2000);
    cache = new RedisCache(redis, config.redisPrefix);
  } else {
    // in-process: right for this process's own reads; it follows every commit, whoever
    // made it, through the change feed
    cache = new MemoryCache();
  }
  if (config.rateLimitRps > 0) {
    limiter = redis
      ? new RedisRateLimiter(redis, config.redisPrefix, config.rateLimitRps, config.rateLimitBurst)
      : new MemoryRateLimiter(config.rateLimitRps, config.rateLimitBurst);
  }

  const reads = new CachedReads(
    ctx,
    cache,
    ctx.feed,
    (hit) => metrics.cache.inc({ result: hit ? "hit" : "miss" }),
    config.readCache,
  );
  ctx.feed!.subscribe(reads);
  // the replica answers a wallet's read only at or above the version the cache knows
  ctx.reads!.useVersions((userId) => reads.knownVersion(userId));
  observeReads(metrics, ctx.reads!, log);
  await ctx.reads!.start();
  const eventWaiters = new EventWaiters(config.watchersPerUser);
  observeWatchers(metrics, eventWaiters);
  ctx.feed!.subscribe(eventWaiters);
  await ctx.feed!.start();
  const services: Services = {
    ctx,
    reads,
    metrics,
    log,
    config,
    eventWaiters,
    redisState: () => (redis ? cache.state() : "off"),
  };
  // the admin API exists only with ADMIN_TOKEN: otherwise /admin/... is an unknown path (404)
  const allRoutes: Route[] = [...moneyRoutes, ...holdRoutes, ...(config.adminToken ? adminRoutes : [])];
  let openapi: unknown;
  allRoutes.push(
    ...opsRoutes(() => (openapi ??= buildOpenApi(allRoutes, { authMode: config.authMode })), {
      metrics: config.metricsPort === 0,
    }),
  );

  const workers = createWorkers(ctx, config, log, metrics);
  const relay = config.natsUrl ? createRelay(ctx, config.natsUrl, log, metrics) : undefined;
  observeQueue(metrics, ctx, redis ? () => cache.state() : undefined);
  const metricsServer =
    config.metricsPort > 0 ? await startMetricsServer(metrics.registry, config.host, config.metricsPort) : undefined;
  // expired idempotency keys go every 10 minutes (any instance may do it; it is idempotent)
  const purge = setInterval(() => {
    purgeIdempotencyKeys(ctx).then(
      (n) => n > 0 && log.info({ purged: n }, "expired idempotency keys purged"),
      (err: unknown) => log.warn({ err }, "idempotency key purge failed; next try in 10 minutes"),
    );
  }, 600_000);
  purge.unref();
  // expired holds are marked in the background (any instance may; each wallet is
  // taken by one); every action already judges expiry by the database clock itself
  const sweep = setInterval(() => {
    markExpiredHolds(ctx).then(
      (n) => n > 0 && log.debug({ expired: n }, "expired holds marked"),
      (err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, "hold marker failed"),
    );
  }, config.holdSweepMs);
  sweep.unref();

  const authenticate = createAuthenticator(config.authMode, config.authSecret);
  const app = createApp({
    services,
    routes: allRoutes,
    authenticate,
    adminAuth: config.adminToken ? createAdminAuthenticator(config.adminToken) : undefined,
    limiter,
  });
  await new Promise<void>((resolve, reject) => {
    app.server.once("error", reject);
    app.server.listen(config.port, config.host, () => resolve());
  });
  // the same services, authenticator and rate limiter: one set of rules whichever protocol
  const grpc =
    config.grpcPort > 0
      ? await startGrpcServer({ services, authenticate, limiter, host: config.host, port: config.grpcPort })
      : undefined;
  await workers.start();
  await relay?.start();
  const port = (app.server.address() as AddressInfo).port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;

  if (config.authMode === "userid") {
    log.warn(
      "AUTH_MODE=userid: the Authorization header is trusted as the caller's user id; use AUTH_MODE=token outside development",
    );
  }
  log.info(
    {
      port,
      host: config.host,
      database: ctx.db.engine,
      redis: Boolean(redis),
      cache: cache.kind,
      workers: config.transferWorkers,
      admin: Boolean(config.adminToken),
      relay: Boolean(relay),
      readReplica: Boolean(ctx.reads?.replica),
      metricsPort: metricsServer?.port,
      grpcPort: grpc?.port,
    },
    "wallet listening",
  );

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    services,
    workers,
    routes: allRoutes,
    close() {
      closing ??= (async () => {
        eventWaiters.close(); // long polls answer now with what they have
        // no new requests or calls; in-flight ones answered, event watchers told where to resume
        await Promise.all([app.close(config.shutdownTimeoutMs), grpc?.close(config.shutdownTimeoutMs)]);
        await relay?.stop();
        await workers.stop(); // no new claims; claimed batches committed or rolled back
        clearInterval(purge);
        clearInterval(sweep);
        await metricsServer?.close();
        await core.close();
        redis?.disconnect();
        log.info("wallet stopped");
      })();
      return closing;
    },
  };
}
