/**
 * The one process assembly. `startProcess` opens the core of a long-running process
 * (change feed, read router), its metrics, the edge when it has an edge role, then
 * the roles of its plan; and stops it all in order. `openDirectProcess` is the
 * CLI's direct mode: the core alone, with the transfer workers wired as everywhere
 * but stepped on demand. serve, worker, relay, direct mode and loadtest all come
 * through here.
 */
import type { Config } from "../../core/config.js";
import type { CoreContext, LiveContext } from "../../core/context.js";
import { openCore, openLiveCore, type LiveCore } from "../../core/index.js";
import type { TransferWorkers } from "../../core/worker.js";
import type { Logger } from "../logger.js";
import { createMetrics, type Metrics } from "../metrics.js";
import { startMetricsServer, type MetricsServer } from "../metricsServer.js";
import { observeQueue } from "../queueMetrics.js";
import { createWorkers, relayRole, sweepJobs, sweepsRole, workersRole, type WorkersRole } from "./backgroundRoles.js";
import { deliverRole } from "./deliverRole.js";
import { openEdge, type Edge } from "./edge.js";
import { apiRole, grpcRole, type ApiRole } from "./edgeRoles.js";
import { processMessages, STOP_STAGES, type ProcessPlan, type Role, type RoleName } from "./roles.js";

type Roles = { api: ApiRole; grpc: Role; workers: WorkersRole; relay: Role; deliver: Role; sweeps: Role };

export type RunningProcess = {
  ctx: LiveContext;
  metrics: Metrics;
  /** the services of the edge roles; absent in a process without one */
  edge?: Edge;
  role<N extends RoleName>(name: N): Roles[N] | undefined;
  /** stops every role in order, then the metrics listener, the core and Redis; once */
  close(): Promise<void>;
};

export async function startProcess(config: Config, log: Logger, plan: ProcessPlan): Promise<RunningProcess> {
  const core = await openLiveCore(config, {
    onFeedError: (err) =>
      log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        "change feed interrupted; caches off until it is back",
      ),
  });
  const { ctx } = core;
  const metrics = createMetrics();
  const roles: Partial<Roles> = {};
  let edge: Edge | undefined;
  let metricsServer: MetricsServer | undefined;
  const stopAll = stopper(
    core,
    roles,
    () => metricsServer,
    () => edge,
  );
  try {
    const wantsEdge = plan.roles.includes("api") || plan.roles.includes("grpc");
    const opened = wantsEdge ? await openEdge(ctx, config, log, metrics) : undefined;
    edge = opened;
    Object.assign(roles, makeRoles({ ctx, config, log, metrics, edge: opened, plan }));
    const waiters = opened?.services.eventWaiters;
    observeQueue(metrics, ctx, opened?.services.redisState, waiters && (() => waiters.sleeping));
    // everything that follows the feed has subscribed: it may start
    await ctx.feed.start();
    if (config.metricsPort > 0)
      metricsServer = await startMetricsServer(metrics.registry, config.host, config.metricsPort);
    for (const stage of [...STOP_STAGES].reverse()) await Promise.all(stage.map((name) => roles[name]?.start()));
  } catch (err) {
    await stopAll().catch(() => undefined);
    throw err;
  }
  const running: Role[] = Object.values(roles);
  const described = Object.assign({}, ...running.map((r) => r.describe?.() ?? {}));
  const messages = processMessages(plan.kind);
  log.info(
    {
      roles: plan.roles,
      ...described,
      database: ctx.db.engine,
      readReplica: Boolean(ctx.reads.replica),
      metricsPort: metricsServer?.port,
    },
    messages.ready,
  );

  let closing: Promise<void> | undefined;
  return {
    ctx,
    metrics,
    edge,
    role: (name) => roles[name],
    close() {
      closing ??= stopAll().then(() => {
        const counts = Object.fromEntries(running.flatMap((r) => (r.counts ? [[r.name, r.counts()]] : [])));
        log.info(counts, messages.stopped);
      });
      return closing;
    },
  };
}

type Kit = { ctx: LiveContext; config: Config; log: Logger; metrics: Metrics; edge?: Edge; plan: ProcessPlan };

function makeRoles(k: Kit): Partial<Roles> {
  const roles: Partial<Roles> = {};
  for (const name of k.plan.roles) {
    switch (name) {
      case "api":
        roles.api = apiRole(needEdge(k.edge, name), k.config);
        break;
      case "grpc":
        roles.grpc = grpcRole(needEdge(k.edge, name), k.config);
        break;
      case "workers":
        roles.workers = workersRole(k.ctx, k.config, k.plan.workers, k.log, k.metrics);
        break;
      case "relay":
        if (!k.config.natsUrl) throw new Error("the relay role needs NATS_URL");
        roles.relay = relayRole(k.ctx, k.config.natsUrl, k.log, k.metrics);
        break;
      case "deliver":
        roles.deliver = deliverRole(k.ctx, k.config, k.log, k.metrics);
        break;
      case "sweeps":
        roles.sweeps = sweepsRole(sweepJobs(k.ctx, k.config, k.log));
        break;
    }
  }
  return roles;
}

function needEdge(edge: Edge | undefined, role: RoleName): Edge {
  if (!edge) throw new Error(`the ${role} role needs the edge services`);
  return edge;
}

/** Stage by stage (see STOP_STAGES), then the metrics listener, the core (drains group commit), Redis. */
function stopper(
  core: LiveCore,
  roles: Partial<Roles>,
  metricsServer: () => MetricsServer | undefined,
  edge: () => Edge | undefined,
): () => Promise<void> {
  return async () => {
    for (const stage of STOP_STAGES) await Promise.all(stage.map((name) => roles[name]?.stop()));
    await metricsServer()?.close();
    await core.close();
    edge()?.close();
  };
}

/** The CLI's direct mode: the core on the database, and a transfer worker it steps itself. */
export type DirectProcess = { ctx: CoreContext; transfers: TransferWorkers; close(): Promise<void> };

export async function openDirectProcess(config: Config): Promise<DirectProcess> {
  const core = await openCore(config);
  // with no server running, nobody else may apply an async transfer: the client lends a hand
  return { ctx: core.ctx, transfers: createWorkers(core.ctx, config, 0), close: () => core.close() };
}
