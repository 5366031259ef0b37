/**
 * Starts the whole service in this process: the core on its database, Redis when
 * configured, the cache and rate limiter, the async transfer workers and the HTTP
 * server; and stops it in the reverse order.
 */
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { CachedReads } from "../core/cache/cachedReads.js";
import { MemoryCache } from "../core/cache/memoryCache.js";
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from "../core/cache/rateLimiter.js";
import { RedisCache } from "../core/cache/redisCache.js";
import { noCache, type VersionedCache } from "../core/cache/types.js";
import type { Config } from "../core/config.js";
import { openCore } from "../core/index.js";
import { purgeIdempotencyKeys } from "../core/purgeIdempotencyKeys.js";
import { appliedVersions, TransferWorkers } from "../core/worker.js";
import { createApp } from "./app.js";
import { createAuthenticator } from "./auth.js";
import { createLogger, type Logger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { buildOpenApi } from "./openapi.js";
import { opsRoutes } from "./opsRoutes.js";
import { routes as apiRoutes, type Route } from "./routes.js";
import type { Services } from "./services.js";
import { observeQueue } from "./queueMetrics.js";

export type RunningServer = {
  url: string;
  port: number;
  services: Services;
  workers: TransferWorkers;
  routes: Route[];
  close(): Promise<void>;
};

export function connectRedis(url: string, log?: Logger): Redis {
  const redis = new Redis(url, {
    // commands fail at once while disconnected (the caller falls back to the
    // database) instead of queueing behind a dead connection
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    commandTimeout: 1000,
    enableAutoPipelining: true,
    retryStrategy: (times) => Math.min(times * 100, 2000),
    lazyConnect: false,
  });
  redis.on("error", (err) => log?.warn({ err: err.message }, "redis error"));
  return redis;
}

export async function startServer(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningServer> {
  const core = await openCore(config);
  const { ctx } = core;
  const metrics = createMetrics();

  let redis: Redis | undefined;
  let cache: VersionedCache;
  let limiter: RateLimiter | undefined;
  if (config.redisUrl) {
    redis = connectRedis(config.redisUrl, log);
    await new Promise<void>((resolve) => {
      // start even if Redis is down: the service works from PostgreSQL meanwhile
      const t = setTimeout(resolve, 2000);
      redis!.once("ready", () => {
        clearTimeout(t);
        resolve();
      });
    });
    cache = new RedisCache(redis, config.redisPrefix);
  } else {
    // The in-process cache is right only when this process sees every write: the
    // embedded database guarantees that; a PostgreSQL server may have other writers
    // (another instance, `wallet worker`), so without Redis there is no cache.
    cache = ctx.db.engine === "pglite" ? new MemoryCache() : noCache;
  }
  if (config.rateLimitRps > 0) {
    limiter = redis
      ? new RedisRateLimiter(redis, config.redisPrefix, config.rateLimitRps, config.rateLimitBurst)
      : new MemoryRateLimiter(config.rateLimitRps, config.rateLimitBurst);
  }

  const reads = new CachedReads(ctx, cache, (hit) => metrics.cache.inc({ result: hit ? "hit" : "miss" }));
  const services: Services = {
    ctx,
    reads,
    metrics,
    log,
    redisState: () => (redis ? cache.state() : "off"),
  };
  const allRoutes: Route[] = [...apiRoutes];
  let openapi: unknown;
  allRoutes.push(...opsRoutes(() => (openapi ??= buildOpenApi(allRoutes, { authMode: config.authMode }))));

  const workers = new TransferWorkers(ctx.db, {
    workers: config.transferWorkers,
    batchSize: config.transferBatchSize,
    maxAttempts: config.transferMaxAttempts,
    retryBaseMs: config.transferRetryBaseMs,
    onApplied: async (rows) => {
      for (const r of rows) metrics.transfers.inc({ outcome: r.outcome === "ok" ? "completed" : "failed" });
      await reads.afterWrite(appliedVersions(rows));
    },
    onDeferred: (rows, err) => {
      for (const r of rows) metrics.transfers.inc({ outcome: r.status === "dead" ? "dead" : "retry" });
      log.warn({ transfers: rows, err: err instanceof Error ? err.message : String(err) }, "async transfers deferred");
    },
    onError: (err) => log.error({ err }, "transfer worker error"),
  });
  observeQueue(metrics, ctx);
  // expired idempotency keys go every 10 minutes (any instance may do it; it is idempotent)
  const purge = setInterval(() => {
    purgeIdempotencyKeys(ctx).then(
      (n) => n > 0 && log.info({ purged: n }, "expired idempotency keys purged"),
      (err: unknown) => log.warn({ err }, "idempotency key purge failed"),
    );
  }, 600_000);
  purge.unref();

  const app = createApp({
    services,
    routes: allRoutes,
    authenticate: createAuthenticator(config.authMode, config.authSecret),
    limiter,
  });
  await new Promise<void>((resolve, reject) => {
    app.server.once("error", reject);
    app.server.listen(config.port, config.host, () => resolve());
  });
  await workers.start();
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
        await app.close(config.shutdownTimeoutMs); // no new requests; in-flight ones answered
        await workers.stop(); // no new claims; claimed batches committed or rolled back
        clearInterval(purge);
        await core.close();
        redis?.disconnect();
        log.info("wallet stopped");
      })();
      return closing;
    },
  };
}
