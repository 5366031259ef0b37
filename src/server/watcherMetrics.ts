import client from "prom-client";
import type { EventWaiters } from "../core/events/waiters.js";
import type { Metrics } from "./metrics.js";

/**
 * The watchers of events: how many are open (long polls and WatchEvents streams) and
 * how many reads their wake-ups cost (one per wallet per change, shared by its
 * watchers, rather than one per watcher).
 */
export function observeWatchers(metrics: Metrics, waiters: EventWaiters): void {
  const registers = [metrics.registry];
  new client.Gauge({
    name: "wallet_event_watchers",
    help: "Open event watchers: long polls (GET /api/events/v1?wait=) and gRPC WatchEvents streams",
    registers,
    collect() {
      this.set(waiters.watching);
    },
  });
  const reads = new client.Counter({
    name: "wallet_event_reads_total",
    help: "Event pages read from the database; the watchers of a wallet woken by one change share one read",
    registers,
  });
  waiters.reads.onRead = () => reads.inc();
}
