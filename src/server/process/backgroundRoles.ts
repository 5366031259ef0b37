/**
 * The background roles, wired the same way wherever they run: the async transfer
 * workers (serve, worker, and a stepped helper in the CLI's direct mode), the events
 * relay (serve with NATS_URL, relay) and the sweeps (serve). Woken by the change
 * feed where there is one, counted in metrics, their faults logged.
 */
import type { Config } from "../../core/config.js";
import type { CoreContext, LiveContext } from "../../core/context.js";
import { EventRelay } from "../../core/events/relay.js";
import { markExpiredHolds } from "../../core/holds.js";
import { purgeIdempotencyKeys } from "../../core/purgeIdempotencyKeys.js";
import { TransferWorkers } from "../../core/worker.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import { periodicJob, type Job } from "./jobs.js";
import type { Role } from "./roles.js";

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** workers: the loops to run (0: none; the owner calls step()). log and metrics: where the process has them. */
export function createWorkers(
  ctx: CoreContext,
  config: Config,
  workers: number,
  o: { log?: Logger; metrics?: Metrics } = {},
): TransferWorkers {
  return new TransferWorkers(
    ctx.db,
    {
      workers,
      batchSize: config.transferBatchSize,
      maxAttempts: config.transferMaxAttempts,
      retryBaseMs: config.transferRetryBaseMs,
      onApplied: (rows) => {
        for (const r of rows) o.metrics?.transfers.inc({ outcome: r.outcome === "ok" ? "completed" : "failed" });
      },
      onDeferred: (rows, err) => {
        for (const r of rows) o.metrics?.transfers.inc({ outcome: r.status === "dead" ? "dead" : "retry" });
        o.log?.warn({ transfers: rows, err: message(err) }, "async transfers deferred");
      },
      onError: (err) => o.log?.warn({ err: message(err) }, "transfer worker backing off"),
    },
    ctx.feed,
  );
}

export type WorkersRole = Role & { readonly workers: TransferWorkers };

export function workersRole(
  ctx: LiveContext,
  config: Config,
  loops: number,
  log: Logger,
  metrics: Metrics,
): WorkersRole {
  const workers = createWorkers(ctx, config, loops, { log, metrics });
  return {
    name: "workers",
    workers,
    start: () => workers.start(),
    // no new claims; claimed batches committed or rolled back
    stop: () => workers.stop(),
    describe: () => ({ workers: loops }),
    counts: () => ({ ...workers.counts }),
  };
}

export function relayRole(ctx: LiveContext, natsUrl: string, log: Logger, metrics: Metrics): Role {
  const relay = new EventRelay(
    ctx.db,
    {
      natsUrl,
      onPublished: (n) => metrics.eventsPublished.inc(n),
      onError: (err) => log.warn({ err: message(err) }, "events relay backing off"),
      onActive: () => log.info({ stream: "WALLET_EVENTS" }, "events relay active"),
    },
    ctx.feed,
  );
  return {
    name: "relay",
    start: () => relay.start(),
    stop: () => relay.stop(),
    describe: () => ({ relay: true }),
    counts: () => ({ ...relay.counts }),
  };
}

/**
 * The sweeps: expired idempotency keys go every 10 minutes; expired holds are marked
 * every HOLD_SWEEP_MS (every action already judges expiry by the database clock
 * itself: this keeps what is listed tidy). Any instance may run them: both are
 * idempotent, and each wallet's holds are taken by one at a time.
 */
export function sweepJobs(ctx: LiveContext, config: Config, log: Logger): Job[] {
  return [
    periodicJob(
      {
        name: "idempotency-key-purge",
        everyMs: 600_000,
        run: async () => {
          const n = await purgeIdempotencyKeys(ctx);
          if (n > 0) log.info({ job: "idempotency-key-purge", purged: n }, "expired idempotency keys purged");
        },
      },
      log,
    ),
    periodicJob(
      {
        name: "hold-expiry-sweep",
        everyMs: config.holdSweepMs,
        run: async () => {
          const n = await markExpiredHolds(ctx);
          if (n > 0) log.debug({ job: "hold-expiry-sweep", expired: n }, "expired holds marked");
        },
      },
      log,
    ),
  ];
}

export function sweepsRole(jobs: Job[]): Role {
  return {
    name: "sweeps",
    start: async () => jobs.forEach((j) => j.start()),
    stop: async () => {
      await Promise.all(jobs.map((j) => j.stop()));
    },
    describe: () => ({ jobs: jobs.map((j) => j.name) }),
  };
}
