/**
 * The admin API's webhooks and balance monitors (served with ADMIN_TOKEN, like the
 * rest of /admin/v1). Endpoint and monitor changes are audited (webhook, monitor).
 */
import type { z } from "zod";
import { WalletError } from "../core/errors.js";
import { AddressRefused, parseWebhookUrl, resolveAllowed } from "../core/webhooks/address.js";
import { createMonitor, listMonitors, removeMonitor } from "../core/webhooks/monitors.js";
import {
  deleteEndpoint,
  getEndpoint,
  insertEndpoint,
  listDeliveries,
  listEndpoints,
  retryDelivery,
  rotateSecret,
} from "../core/webhooks/store.js";
import { currencyOf, type RequestInfo, type Route } from "./routes.js";
import type { Services } from "./services.js";
import * as w from "./webhookSchemas.js";

const admin = { auth: true, admin: true, rateLimited: false, tag: "admin" } as const;
const noContent = { status: 204, text: "" };

/** A path id that cannot be one names nothing. */
function pathId(r: RequestInfo, name: string, what: string): string {
  const v = r.params[name]!;
  if (!/^[0-9]{1,19}$/.test(v)) throw new WalletError("not_found", `There is no ${what} ${v}.`);
  return v;
}

const notFound = (what: string, id: string) => new WalletError("not_found", `There is no ${what} ${id}.`);

async function endpointOf(svc: Services, r: RequestInfo): Promise<string> {
  const id = pathId(r, "id", "webhook");
  if (!(await getEndpoint(svc.ctx.db, id))) throw notFound("webhook", id);
  return id;
}

export const webhookRoutes: Route[] = [
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/webhooks",
    operationId: "adminWebhookAdd",
    storesReply: true,
    summary: "Add a webhook endpoint: matching events are POSTed to it, signed with its secret",
    body: w.WebhookBody,
    responses: {
      201: { description: "Added (the secret is shown here and at rotation only)", schema: w.WebhookCreated },
    },
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof w.WebhookBody>;
      try {
        await resolveAllowed(parseWebhookUrl(b.url), svc.config.webhookAllowPrivate);
      } catch (err) {
        if (err instanceof AddressRefused) throw new WalletError("invalid_request", err.message);
        throw err;
      }
      const e = await insertEndpoint(svc.ctx.db, {
        url: b.url,
        eventTypes: b.event_types,
        description: b.description,
        actor: r.actor!,
      });
      return { status: 201, body: e };
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/webhooks",
    operationId: "adminWebhookList",
    summary: "The webhook endpoints (without their secrets)",
    responses: { 200: { description: "Every endpoint, oldest first", schema: w.WebhookList } },
    handler: async (_r, svc) => ({ status: 200, body: { webhooks: await listEndpoints(svc.ctx.db) } }),
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/webhooks/{id}",
    operationId: "adminWebhookGet",
    summary: "A webhook endpoint",
    responses: { 200: { description: "The endpoint", schema: w.WebhookResponse } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const id = pathId(r, "id", "webhook");
      const e = await getEndpoint(svc.ctx.db, id);
      if (!e) throw notFound("webhook", id);
      return { status: 200, body: e };
    },
  },
  {
    ...admin,
    method: "DELETE",
    path: "/admin/v1/webhooks/{id}",
    operationId: "adminWebhookRemove",
    summary: "Remove a webhook endpoint: nothing more is sent to it, its deliveries go with it",
    responses: { 204: { description: "Removed" } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const id = pathId(r, "id", "webhook");
      if (!(await deleteEndpoint(svc.ctx.db, id, r.actor!))) throw notFound("webhook", id);
      return noContent;
    },
  },
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/webhooks/{id}/rotate",
    operationId: "adminWebhookRotate",
    storesReply: true,
    summary: "A new secret; the old one keeps signing beside it for 24 h",
    responses: { 200: { description: "The new secret (shown here only)", schema: w.SecretResponse } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const id = pathId(r, "id", "webhook");
      const secret = await rotateSecret(svc.ctx.db, id, r.actor!);
      if (!secret) throw notFound("webhook", id);
      return { status: 200, body: { secret } };
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/webhooks/{id}/deliveries",
    operationId: "adminWebhookDeliveries",
    summary: "An endpoint's deliveries by id ascending: pass next_after as after for the next page",
    query: w.DeliveriesQuery,
    responses: { 200: { description: "A page of deliveries", schema: w.DeliveriesResponse } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const id = await endpointOf(svc, r);
      const q = r.query as z.infer<typeof w.DeliveriesQuery>;
      return { status: 200, body: await listDeliveries(svc.ctx.db, id, q) };
    },
  },
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/webhooks/{id}/deliveries/{delivery_id}/retry",
    operationId: "adminWebhookRetry",
    storesReply: true,
    summary: "Send a failed delivery again, at once",
    responses: { 202: { description: "Pending again" } },
    refusals: ["not_found", "delivery_not_failed"],
    handler: async (r, svc) => {
      const id = await endpointOf(svc, r);
      const deliveryId = pathId(r, "delivery_id", "delivery");
      const o = await retryDelivery(svc.ctx.db, id, deliveryId, r.actor!);
      if (o === "not_found") throw notFound("delivery", deliveryId);
      if (o === "not_failed") throw new WalletError("delivery_not_failed");
      return { status: 202, body: { id: deliveryId, status: "pending" } };
    },
  },
  {
    ...admin,
    method: "POST",
    path: "/admin/v1/monitors",
    operationId: "adminMonitorAdd",
    storesReply: true,
    summary: "Watch a wallet's balance: monitor_triggered and monitor_resolved events, once per crossing",
    body: w.MonitorBody,
    currency: true,
    responses: { 201: { description: "Added, with its state judged now", schema: w.MonitorResponse } },
    refusals: ["wallet_not_found"],
    handler: async (r, svc) => {
      const b = r.body as z.infer<typeof w.MonitorBody>;
      const currency = currencyOf(svc, b.currency);
      const m = await createMonitor(svc.ctx.db, { ...b, currency }, r.actor!);
      if (!m) throw new WalletError("wallet_not_found", `There is no wallet ${b.user_id}.`);
      return { status: 201, body: m };
    },
  },
  {
    ...admin,
    method: "GET",
    path: "/admin/v1/monitors",
    operationId: "adminMonitorList",
    summary: "Balance monitors, of one user or all",
    query: w.MonitorQuery,
    responses: { 200: { description: "Monitors, oldest first", schema: w.MonitorList } },
    handler: async (r, svc) => {
      const q = r.query as z.infer<typeof w.MonitorQuery>;
      return { status: 200, body: { monitors: await listMonitors(svc.ctx.db, q.user_id) } };
    },
  },
  {
    ...admin,
    method: "DELETE",
    path: "/admin/v1/monitors/{id}",
    operationId: "adminMonitorRemove",
    summary: "Remove a balance monitor",
    responses: { 204: { description: "Removed" } },
    refusals: ["not_found"],
    handler: async (r, svc) => {
      const id = pathId(r, "id", "monitor");
      if (!(await removeMonitor(svc.ctx.db, id, r.actor!))) throw notFound("monitor", id);
      return noContent;
    },
  },
];
