import type { CachedReads } from "../core/cache/cachedReads.js";
import type { Config } from "../core/config.js";
import type { LiveContext } from "../core/context.js";
import type { EventWaiters } from "../core/events/waiters.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/** What route handlers get: the core and the edge pieces around it. */
export type Services = {
  ctx: LiveContext;
  reads: CachedReads;
  metrics: Metrics;
  log: Logger;
  config: Config;
  /** long polls of the events API, woken by the change feed */
  eventWaiters: EventWaiters;
  /** the Redis connection state when REDIS_URL is set */
  redisState(): "ok" | "degraded" | "off";
};
