/** `wallet worker` and `wallet relay`: background parts without the API. */
import type { Config } from "../core/config.js";
import type { Core } from "../core/index.js";
import type { Logger } from "./logger.js";
import { createRelay, createWorkers } from "./workers.js";

export async function startWorkerProcess(core: Core, config: Config, log: Logger): Promise<() => Promise<void>> {
  const workers = createWorkers(core.ctx, config, log, undefined, Math.max(1, config.transferWorkers));
  await core.ctx.feed?.start();
  await workers.start();
  log.info({ workers: Math.max(1, config.transferWorkers), database: core.ctx.db.engine }, "wallet worker running");
  return async () => {
    await workers.stop();
    await core.close();
    log.info({ ...workers.counts }, "wallet worker stopped");
  };
}

export async function startRelayProcess(core: Core, natsUrl: string, log: Logger): Promise<() => Promise<void>> {
  const relay = createRelay(core.ctx, natsUrl, log);
  await core.ctx.feed?.start();
  await relay.start();
  log.info({ database: core.ctx.db.engine }, "wallet relay running");
  return async () => {
    await relay.stop();
    await core.close();
    log.info({ ...relay.counts }, "wallet relay stopped");
  };
}
