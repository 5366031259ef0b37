import client from "prom-client";
import type { CoreContext } from "../core/context.js";
import type { Metrics } from "./metrics.js";

/**
 * Gauges read when /metrics is scraped: async queue depth and the age of the oldest
 * pending transfer (one indexed query), database pool use.
 */
export function observeQueue(metrics: Metrics, ctx: CoreContext): void {
  const registers = [metrics.registry];
  new client.Gauge({
    name: "wallet_async_queue_depth",
    help: "Pending async transfers",
    registers,
    async collect() {
      const { rows } = await ctx.db.knex.raw<{ rows: Array<{ n: number; age: number | null }> }>(
        `select count(*)::int as n, extract(epoch from now() - min(created_at))::float8 as age
           from transfers where status = 'pending'`,
      );
      this.set(rows[0]?.n ?? 0);
      oldest.set(rows[0]?.age ?? 0);
    },
  });
  const oldest = new client.Gauge({
    name: "wallet_async_oldest_pending_seconds",
    help: "Age of the oldest pending async transfer",
    registers,
  });
  new client.Gauge({
    name: "wallet_db_pool_connections",
    help: "Database pool connections by state",
    labelNames: ["state"] as const,
    registers,
    collect() {
      const pool = (
        ctx.db.knex.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }
      ).pool;
      if (!pool) return;
      this.set({ state: "used" }, pool.numUsed());
      this.set({ state: "free" }, pool.numFree());
      this.set({ state: "waiting" }, pool.numPendingAcquires());
    },
  });
}
