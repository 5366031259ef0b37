/** Redis, when REDIS_URL is set: the shared cache and the shared rate limits. */
import { Redis } from "ioredis";
import type { Logger } from "./logger.js";

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

/** Waits up to timeoutMs for the connection: the service starts without Redis too. */
export function redisReady(redis: Redis, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, timeoutMs);
    redis.once("ready", () => {
      clearTimeout(t);
      resolve();
    });
  });
}
