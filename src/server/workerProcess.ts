/** `wallet worker`: the async transfer workers without the API, telling Redis of their writes. */
import { CachedReads } from "../core/cache/cachedReads.js";
import { RedisCache } from "../core/cache/redisCache.js";
import { noCache } from "../core/cache/types.js";
import type { Config } from "../core/config.js";
import type { Core } from "../core/index.js";
import { appliedVersions, TransferWorkers } from "../core/worker.js";
import { connectRedis } from "./index.js";
import type { Logger } from "./logger.js";

export async function startWorkerProcess(core: Core, config: Config, log: Logger): Promise<() => Promise<void>> {
  const redis = config.redisUrl ? connectRedis(config.redisUrl, log) : undefined;
  const reads = new CachedReads(core.ctx, redis ? new RedisCache(redis, config.redisPrefix) : noCache);
  const workers = new TransferWorkers(core.ctx.db, {
    workers: Math.max(1, config.transferWorkers),
    batchSize: config.transferBatchSize,
    maxAttempts: config.transferMaxAttempts,
    retryBaseMs: config.transferRetryBaseMs,
    onApplied: (rows) => reads.afterWrite(appliedVersions(rows)),
    onDeferred: (rows, err) =>
      log.warn({ transfers: rows, err: err instanceof Error ? err.message : String(err) }, "async transfers deferred"),
    onError: (err) => log.error({ err }, "transfer worker error"),
  });
  await workers.start();
  log.info({ workers: Math.max(1, config.transferWorkers), database: core.ctx.db.engine }, "wallet worker running");
  return async () => {
    await workers.stop();
    await core.close();
    redis?.disconnect();
    log.info({ ...workers.counts }, "wallet worker stopped");
  };
}
