/**
 * The edge roles: the HTTP API (routes, OpenAPI, ops endpoints) and the gRPC server,
 * both on one Edge. Stopping one: the long polls answer at once with what they
 * have, no new requests or calls, those in flight answered (up to
 * SHUTDOWN_TIMEOUT_MS), event watchers told where to resume.
 */
import type { AddressInfo } from "node:net";
import { grpcLimits, type Config } from "../../core/config.js";
import { adminRoutes } from "../adminRoutes.js";
import { createApp } from "../app.js";
import type { GrpcServer } from "../grpc/server.js";
import { fxAdminRoutes, fxRoutes } from "../fxRoutes.js";
import { holdRoutes } from "../holdRoutes.js";
import { batchRoutes } from "../batchRoutes.js";
import { limitAdminRoutes, limitRoutes } from "../limitRoutes.js";
import { moneyRoutes } from "../moneyRoutes.js";
import { buildOpenApi } from "../openapi.js";
import { opsRoutes } from "../opsRoutes.js";
import type { Route } from "../routes.js";
import { webhookRoutes } from "../webhookRoutes.js";
import type { Edge } from "./edge.js";
import type { Role } from "./roles.js";

export type ApiRole = Role & { readonly routes: Route[]; readonly port: number; readonly url: string };

/** The route table: money, holds, the admin API only with ADMIN_TOKEN (else /admin/... is 404), ops. */
function routeTable(config: Config): Route[] {
  const routes: Route[] = [
    ...moneyRoutes,
    ...holdRoutes,
    ...fxRoutes,
    ...batchRoutes,
    ...limitRoutes,
    ...(config.adminToken ? [...adminRoutes, ...fxAdminRoutes, ...webhookRoutes, ...limitAdminRoutes] : []),
  ];
  let openapi: unknown;
  routes.push(
    ...opsRoutes(() => (openapi ??= buildOpenApi(routes, { authMode: config.authMode })), {
      // /metrics on the API port unless METRICS_PORT gives it a listener of its own
      metrics: config.metricsPort === 0,
    }),
  );
  return routes;
}

export function apiRole(edge: Edge, config: Config): ApiRole {
  const routes = routeTable(config);
  const app = createApp({
    services: edge.services,
    routes,
    admission: edge.admission,
    adminAuth: edge.adminAuth,
  });
  let port = 0;
  return {
    name: "api",
    routes,
    get port() {
      return port;
    },
    get url() {
      const host = config.host.includes(":") ? `[${config.host}]` : config.host;
      return `http://${host}:${port}`;
    },
    async start() {
      await new Promise<void>((resolve, reject) => {
        app.server.once("error", reject);
        app.server.listen(config.port, config.host, () => resolve());
      });
      port = (app.server.address() as AddressInfo).port;
    },
    async stop() {
      edge.services.eventWaiters.close();
      await app.close(config.shutdownTimeoutMs);
    },
    describe: () => ({
      port,
      host: config.host,
      redis: edge.redis,
      cache: edge.cache.kind,
      admin: Boolean(config.adminToken),
    }),
  };
}

export function grpcRole(edge: Edge, config: Config): Role {
  let server: GrpcServer | undefined;
  return {
    name: "grpc",
    async start() {
      // loaded with its role: gRPC and the protobuf loader are most of a process's start
      const { startGrpcServer } = await import("../grpc/server.js");
      server = await startGrpcServer({
        services: edge.services,
        admission: edge.admission,
        host: config.host,
        port: config.grpcPort,
        limits: grpcLimits(config),
      });
    },
    async stop() {
      edge.services.eventWaiters.close();
      await server?.close(config.shutdownTimeoutMs);
    },
    describe: () => ({ grpcPort: server?.port }),
  };
}
