/** `wallet worker`: the async transfer workers without the API. */
import type { Config } from "../core/config.js";
import type { Core } from "../core/index.js";
import type { Logger } from "./logger.js";
import { createWorkers } from "./workers.js";

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
