/**
 * The webhook deliverer as a process role (serve by default, `wallet deliver` alone):
 * woken by the change feed, its attempts counted and timed, the oldest pending event
 * per endpoint measured for the alert.
 */
import type { Config } from "../../core/config.js";
import type { LiveContext } from "../../core/context.js";
import { WebhookDeliverer } from "../../core/webhooks/deliverer.js";
import type { Logger } from "../logger.js";
import type { Metrics } from "../metrics.js";
import type { Role } from "./roles.js";

export function deliverRole(ctx: LiveContext, config: Config, log: Logger, metrics: Metrics): Role {
  // every outcome is a series from the start (a rate of 0, not no data)
  for (const outcome of ["delivered", "retry", "failed"]) metrics.webhookDeliveries.inc({ outcome }, 0);
  const deliverer = new WebhookDeliverer(
    ctx.db,
    {
      allowPrivate: config.webhookAllowPrivate,
      retryBaseMs: config.webhookRetryBaseMs,
      maxAttempts: config.webhookMaxAttempts,
      concurrency: config.webhookConcurrency,
      onAttempt: (outcome, seconds) => {
        metrics.webhookDeliveries.inc({ outcome });
        metrics.webhookAttemptSeconds.observe(seconds);
      },
      onOldest: (ages) => {
        metrics.webhookOldestPending.reset();
        for (const [endpoint, age] of ages) metrics.webhookOldestPending.set({ endpoint }, age);
      },
      onError: (err) =>
        log.warn({ err: err instanceof Error ? err.message : String(err) }, "webhook deliverer backing off"),
    },
    ctx.feed,
  );
  return {
    name: "deliver",
    start: () => deliverer.start(),
    stop: () => deliverer.stop(),
    describe: () => ({ webhooks: true }),
    counts: () => ({ ...deliverer.counts }),
  };
}
