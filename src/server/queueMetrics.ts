import client from "prom-client";
import type { LiveContext } from "../core/context.js";
import { outboxStats } from "../core/store/events.js";
import { queueStats } from "../core/store/transfers.js";
import type { Metrics } from "./metrics.js";

/**
 * Gauges read when /metrics is scraped: async queue depth and the age of the oldest
 * pending transfer (one indexed query), database pool use, the change feed.
 */
export function observeQueue(
  metrics: Metrics,
  ctx: LiveContext,
  redisState?: () => "ok" | "degraded" | "off",
  longPolls?: () => number,
): void {
  const registers = [metrics.registry];
  const dead = new client.Gauge({
    name: "wallet_async_dead_letters",
    help: "Async transfers parked as dead letters (wallet transfers list --status dead)",
    registers,
  });
  if (redisState) {
    new client.Gauge({
      name: "wallet_redis_up",
      help: "1 while the shared cache and limiter in Redis are usable, 0 while degraded (reads go to the database)",
      registers,
      collect() {
        this.set(redisState() === "ok" ? 1 : 0);
      },
    });
  }
  const oldest = new client.Gauge({
    name: "wallet_async_oldest_pending_seconds",
    help: "Age of the oldest pending async transfer",
    registers,
  });
  new client.Gauge({
    name: "wallet_async_queue_depth",
    help: "Pending async transfers",
    registers,
    async collect() {
      const s = await queueStats(ctx.db).catch(() => undefined);
      if (!s) return; // the database is away: /readyz says so
      this.set(s.pending);
      oldest.set(s.oldestSeconds);
      dead.set(s.dead);
    },
  });
  new client.Gauge({
    name: "wallet_db_pool_connections",
    help: "Database pool connections by state",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const pool = ctx.db.poolStats();
      if (!pool) return;
      this.set({ state: "used" }, pool.used);
      this.set({ state: "free" }, pool.free);
      this.set({ state: "waiting" }, pool.waiting);
      this.set({ state: "max" }, pool.max);
    },
  });
  const eventsOldest = new client.Gauge({
    name: "wallet_events_oldest_unpublished_seconds",
    help: "Age of the oldest event not yet published to NATS (0 when none)",
    registers,
  });
  new client.Gauge({
    name: "wallet_events_backlog",
    help: "Events written and not yet published to NATS JetStream",
    registers,
    async collect() {
      const s = await outboxStats(ctx.db).catch(() => undefined);
      if (!s) return;
      this.set(s.backlog);
      eventsOldest.set(s.oldestSeconds);
    },
  });
  if (longPolls) {
    new client.Gauge({
      name: "wallet_events_long_polls",
      help: "Long polls (events API, WatchEvents) asleep until their wallet's next event",
      registers,
      collect() {
        this.set(longPolls());
      },
    });
  }
  new client.Gauge({
    name: "wallet_change_feed_up",
    help: "1 while this process hears the database's change notifications (caches in use), else 0",
    registers,
    collect() {
      this.set(ctx.feed.up ? 1 : 0);
    },
  });
}
