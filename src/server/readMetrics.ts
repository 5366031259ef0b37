import client from "prom-client";
import type { ReadRouter } from "../core/reads/router.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

/**
 * The read router's counts (reads by source, fallbacks by reason), the replica's
 * health and lag as gauges, and a log line whenever the replica is bypassed or
 * taken back.
 */
export function observeReads(metrics: Metrics, router: ReadRouter, log: Logger): void {
  router.hooks = {
    onRead: (source) => metrics.dbReads.inc({ source }),
    onFallback: (reason) => metrics.replicaFallbacks.inc({ reason }),
    onHealth: (h) =>
      h.healthy
        ? log.info({ lagMs: h.lagMs }, "read replica healthy: reads it can serve go to it")
        : log.warn({ reason: h.reason }, "read replica bypassed: reads go to the primary"),
  };
  if (!router.replica) return;
  const registers = [metrics.registry];
  new client.Gauge({
    name: "wallet_db_replica_up",
    help: "1 while the read replica (DATABASE_READ_URL) answers and lags no more than DATABASE_READ_MAX_LAG_MS, else 0",
    registers,
    collect() {
      this.set(router.replicaHealth.healthy ? 1 : 0);
    },
  });
  new client.Gauge({
    name: "wallet_db_replica_lag_seconds",
    help: "How far the read replica is behind the primary, as last measured (absent while it cannot be measured)",
    registers,
    collect() {
      const lag = router.replicaHealth.lagMs;
      this.reset();
      if (lag !== null) this.set(lag / 1000);
    },
  });
}
