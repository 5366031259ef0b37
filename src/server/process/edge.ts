/**
 * What the two edges (HTTP and gRPC) share in one process: Redis when configured,
 * the read cache and the rate limiter on it (or in memory), the read router's
 * replica checks, the long polls' waiters, the authenticators. Made once, when the
 * process has an edge role; it subscribes to the change feed, so it is made before
 * the feed starts.
 */
import type { Redis } from "ioredis";
import { CachedReads } from "../../core/cache/cachedReads.js";
import { MemoryCache } from "../../core/cache/memoryCache.js";
import { MemoryRateLimiter, RedisRateLimiter, type RateLimiter } from "../../core/cache/rateLimiter.js";
import { RedisCache } from "../../core/cache/redisCache.js";
import type { VersionedCache } from "../../core/cache/types.js";
import type { Config } from "../../core/config.js";
import type { LiveContext } from "../../core/context.js";
import { EventWaiters } from "../../core/events/waiters.js";
import { createAdmission, type Admission } from "../admission.js";
import { createAdminAuthenticator, createAuthenticator, type AdminAuthenticator } from "../auth.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { observeReads } from "../readMetrics.js";
import { observeWatchers } from "../watcherMetrics.js";
import { connectRedis, redisReady } from "../redis.js";
import type { Services } from "../services.js";

export type Edge = {
  services: Services;
  /** one set of rules whichever protocol: one admission (authenticator, rate limiter, opened wallets) */
  admission: Admission;
  adminAuth?: AdminAuthenticator;
  cache: VersionedCache;
  redis: boolean;
  /** after the core: Redis goes last */
  close(): void;
};

export async function openEdge(ctx: LiveContext, config: Config, log: Logger, metrics: Metrics): Promise<Edge> {
  let redis: Redis | undefined;
  let cache: VersionedCache;
  if (config.redisUrl) {
    redis = connectRedis(config.redisUrl, log);
    await redisReady(redis, 2000);
    cache = new RedisCache(redis, config.redisPrefix);
  } else {
    // in-process: right for this process's own reads; it follows every commit, whoever
    // made it, through the change feed
    cache = new MemoryCache();
  }
  let limiter: RateLimiter | undefined;
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
  ctx.feed.subscribe(reads);
  // the replica answers a wallet's read only at or above the version the cache knows
  ctx.reads.useVersions((userId) => reads.knownVersion(userId));
  observeReads(metrics, ctx.reads, log);
  await ctx.reads.start();
  const eventWaiters = new EventWaiters(config.watchersPerUser);
  observeWatchers(metrics, eventWaiters);
  ctx.feed.subscribe(eventWaiters);
  if (config.authMode === "userid") {
    log.warn(
      "AUTH_MODE=userid: the Authorization header is trusted as the caller's user id; use AUTH_MODE=token outside development",
    );
  }

  const services: Services = {
    ctx,
    reads,
    metrics,
    log,
    config,
    eventWaiters,
    redisState: () => (redis ? cache.state() : "off"),
  };
  return {
    services,
    admission: createAdmission({
      services,
      authenticate: createAuthenticator(config.authMode, config.authSecret),
      limiter,
    }),
    adminAuth: config.adminToken ? createAdminAuthenticator(config.adminToken) : undefined,
    cache,
    redis: Boolean(redis),
    close: () => redis?.disconnect(),
  };
}
