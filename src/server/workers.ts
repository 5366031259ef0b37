/**
 * The background parts, wired the same way wherever they run: the async transfer
 * workers (in `wallet serve` and `wallet worker`) and the events relay (in
 * `wallet serve` with NATS_URL, and `wallet relay`). Woken by the change feed, counted
 * in metrics when there are metrics, their faults logged.
 */
import type { Config } from "../core/config.js";
import type { CoreContext } from "../core/context.js";
import { EventRelay } from "../core/events/relay.js";
import { TransferWorkers } from "../core/worker.js";
import type { Logger } from "./logger.js";
import type { Metrics } from "./metrics.js";

export function createWorkers(
  ctx: CoreContext,
  config: Config,
  log: Logger,
  metrics?: Metrics,
  workers = config.transferWorkers,
): TransferWorkers {
  return new TransferWorkers(
    ctx.db,
    {
      workers,
      batchSize: config.transferBatchSize,
      maxAttempts: config.transferMaxAttempts,
      retryBaseMs: config.transferRetryBaseMs,
      onApplied: (rows) => {
        for (const r of rows) metrics?.transfers.inc({ outcome: r.outcome === "ok" ? "completed" : "failed" });
      },
      onDeferred: (rows, err) => {
        for (const r of rows) metrics?.transfers.inc({ outcome: r.status === "dead" ? "dead" : "retry" });
        log.warn(
          { transfers: rows, err: err instanceof Error ? err.message : String(err) },
          "async transfers deferred",
        );
      },
      onError: (err) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "transfer worker backing off"),
    },
    ctx.feed,
  );
}

export function createRelay(ctx: CoreContext, natsUrl: string, log: Logger, metrics?: Metrics): EventRelay {
  return new EventRelay(
    ctx.db,
    {
      natsUrl,
      onPublished: (n) => metrics?.eventsPublished.inc(n),
      onError: (err) => log.warn({ err: err instanceof Error ? err.message : String(err) }, "events relay backing off"),
      onActive: () => log.info({ stream: "WALLET_EVENTS" }, "events relay active"),
    },
    ctx.feed,
  );
}
