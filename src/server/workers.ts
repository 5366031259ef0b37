/**
 * The async transfer workers, wired the same way in `wallet serve` and in
 * `wallet worker`: woken by the change feed, counted in metrics when there are
 * metrics, their retries and faults logged.
 */
import type { Config } from "../core/config.js";
import type { CoreContext } from "../core/context.js";
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
