/** `wallet worker` and `wallet relay`: background parts without the API. */
import type { Config } from "../core/config.js";
import type { Core } from "../core/index.js";
import type { Logger } from "./logger.js";
import { createMetrics } from "./metrics.js";
import { startMetricsServer } from "./metricsServer.js";
import { observeQueue } from "./queueMetrics.js";
import { createRelay, createWorkers } from "./workers.js";

/** METRICS_PORT set: this process's metrics on a listener of their own. */
async function processMetrics(core: Core, config: Config) {
  if (config.metricsPort === 0) return { metrics: undefined, port: undefined, close: async () => undefined };
  const metrics = createMetrics();
  observeQueue(metrics, core.ctx);
  const server = await startMetricsServer(metrics.registry, config.host, config.metricsPort);
  return { metrics, port: server.port, close: () => server.close() };
}

export async function startWorkerProcess(core: Core, config: Config, log: Logger): Promise<() => Promise<void>> {
  const m = await processMetrics(core, config);
  const workers = createWorkers(core.ctx, config, log, m.metrics, Math.max(1, config.transferWorkers));
  await core.ctx.feed?.start();
  await workers.start();
  log.info(
    { workers: Math.max(1, config.transferWorkers), database: core.ctx.db.engine, metricsPort: m.port },
    "wallet worker running",
  );
  return async () => {
    await workers.stop();
    await m.close();
    await core.close();
    log.info({ ...workers.counts }, "wallet worker stopped");
  };
}

export async function startRelayProcess(core: Core, config: Config, log: Logger): Promise<() => Promise<void>> {
  const m = await processMetrics(core, config);
  const relay = createRelay(core.ctx, config.natsUrl!, log, m.metrics);
  await core.ctx.feed?.start();
  await relay.start();
  log.info({ database: core.ctx.db.engine, metricsPort: m.port }, "wallet relay running");
  return async () => {
    await relay.stop();
    await m.close();
    await core.close();
    log.info({ ...relay.counts }, "wallet relay stopped");
  };
}
