/**
 * `wallet serve` in this process: the API (and gRPC with GRPC_PORT), the async
 * transfer workers, the events relay (with NATS_URL) and the sweeps, assembled by
 * process/assemble.ts and stopped in its order. Tests and the in-process loadtest
 * start it here.
 */
import type { Config } from "../core/config.js";
import type { TransferWorkers } from "../core/worker.js";
import { createLogger, type Logger } from "./logger.js";
import { startProcess } from "./process/assemble.js";
import { planFor } from "./process/roles.js";
import type { Route } from "./routes.js";
import type { Services } from "./services.js";

export type RunningServer = {
  url: string;
  port: number;
  services: Services;
  workers: TransferWorkers;
  routes: Route[];
  close(): Promise<void>;
};

export async function startServer(
  config: Config,
  log: Logger = createLogger(config.logLevel, config.logFormat),
): Promise<RunningServer> {
  const p = await startProcess(config, log, planFor("serve", config));
  const api = p.role("api");
  const workers = p.role("workers");
  if (!api || !p.edge || !workers) throw new Error("the serve plan has an API and workers");
  return {
    url: api.url,
    port: api.port,
    services: p.edge.services,
    workers: workers.workers,
    routes: api.routes,
    close: () => p.close(),
  };
}
