/**
 * `wallet webhooks` and `wallet monitors`: the admin API with --api (WALLET_ADMIN_TOKEN,
 * X-Actor), else the database directly, with the same checks as the API.
 */
import type { Command } from "commander";
import { loadClientConfig, loadConfig } from "../core/config.js";
import { WalletError } from "../core/errors.js";
import { AddressRefused, parseWebhookUrl, resolveAllowed } from "../core/webhooks/address.js";
import { createMonitor, listMonitors, removeMonitor, type Monitor } from "../core/webhooks/monitors.js";
import * as store from "../core/webhooks/store.js";
import { openDirect } from "./context.js";
import { UsageError, ConnectionError } from "./errors.js";
import { globals } from "./globals.js";
import { createTransport } from "./http.js";
import { actorName } from "./operatorClient.js";

type Deliveries = Awaited<ReturnType<typeof store.listDeliveries>>;
export type MonitorSpec = Omit<Monitor, "id" | "state" | "currency"> & { currency?: string };

export interface WebhookClient {
  add(url: string, eventTypes: string[], description?: string): Promise<store.Endpoint & { secret: string }>;
  list(): Promise<{ webhooks: store.Endpoint[] }>;
  remove(id: string): Promise<void>;
  rotate(id: string): Promise<{ secret: string }>;
  deliveries(id: string, status?: string, after?: string, limit?: number): Promise<Deliveries>;
  retry(id: string, deliveryId: string): Promise<unknown>;
  addMonitor(m: MonitorSpec): Promise<Monitor>;
  monitors(userId?: number): Promise<{ monitors: Monitor[] }>;
  removeMonitor(id: string): Promise<void>;
  close(): Promise<void>;
}

const notFound = (what: string, id: string) => new WalletError("not_found", `There is no ${what} ${id}.`);
const digits = (id: string, what: string) => {
  if (!/^[0-9]{1,19}$/.test(id)) throw notFound(what, id);
  return id;
};

async function direct(actor: string): Promise<WebhookClient> {
  const config = loadConfig();
  const core = await openDirect(config);
  const db = core.ctx.db;
  const endpoint = async (id: string) => {
    if (!(await store.getEndpoint(db, digits(id, "webhook")))) throw notFound("webhook", id);
    return id;
  };
  return {
    async add(url, eventTypes, description) {
      try {
        await resolveAllowed(parseWebhookUrl(url), config.webhookAllowPrivate);
      } catch (err) {
        if (err instanceof AddressRefused) throw new WalletError("invalid_request", err.message);
        throw err;
      }
      return store.insertEndpoint(db, { url, eventTypes, description, actor });
    },
    list: async () => ({ webhooks: await store.listEndpoints(db) }),
    async remove(id) {
      if (!(await store.deleteEndpoint(db, digits(id, "webhook"), actor))) throw notFound("webhook", id);
    },
    async rotate(id) {
      const secret = await store.rotateSecret(db, digits(id, "webhook"), actor);
      if (!secret) throw notFound("webhook", id);
      return { secret };
    },
    deliveries: async (id, status, after, limit = 100) =>
      store.listDeliveries(db, await endpoint(id), { status, after, limit }),
    async retry(id, deliveryId) {
      const o = await store.retryDelivery(db, await endpoint(id), digits(deliveryId, "delivery"), actor);
      if (o === "not_found") throw notFound("delivery", deliveryId);
      if (o === "not_failed") throw new WalletError("delivery_not_failed");
      return { id: deliveryId, status: "pending" };
    },
    async addMonitor(m) {
      const currency = core.ctx.currencies.resolve(m.currency);
      const made = await createMonitor(db, { ...m, currency }, actor);
      if (!made) throw new WalletError("wallet_not_found", `There is no wallet ${m.user_id}.`);
      return made;
    },
    monitors: async (userId) => ({ monitors: await listMonitors(db, userId) }),
    async removeMonitor(id) {
      if (!(await removeMonitor(db, digits(id, "monitor"), actor))) throw notFound("monitor", id);
    },
    close: () => core.close(),
  };
}

function http(baseUrl: string, token: string | undefined, actor: string): WebhookClient {
  if (!token) throw new ConnectionError("--api needs WALLET_ADMIN_TOKEN (the server's ADMIN_TOKEN) for admin commands");
  const t = createTransport(baseUrl);
  const h = { authorization: `Bearer ${token}`, "x-actor": actor };
  const p = (id: string) => encodeURIComponent(id);
  return {
    add: (url, event_types, description) =>
      t.call("POST", "/admin/v1/webhooks", h, { url, event_types, ...(description ? { description } : {}) }),
    list: () => t.call("GET", "/admin/v1/webhooks", h),
    remove: (id) => t.call("DELETE", `/admin/v1/webhooks/${p(id)}`, h),
    rotate: (id) => t.call("POST", `/admin/v1/webhooks/${p(id)}/rotate`, h, {}),
    deliveries: (id, status, after, limit) => {
      const q = new URLSearchParams();
      if (status) q.set("status", status);
      if (after) q.set("after", after);
      if (limit) q.set("limit", String(limit));
      return t.call("GET", `/admin/v1/webhooks/${p(id)}/deliveries?${q}`, h);
    },
    retry: (id, deliveryId) => t.call("POST", `/admin/v1/webhooks/${p(id)}/deliveries/${p(deliveryId)}/retry`, h, {}),
    addMonitor: (m) => t.call("POST", "/admin/v1/monitors", h, m),
    monitors: (userId) => t.call("GET", `/admin/v1/monitors${userId ? `?user_id=${userId}` : ""}`, h),
    removeMonitor: (id) => t.call("DELETE", `/admin/v1/monitors/${p(id)}`, h),
    close: () => t.close(),
  };
}

export async function withWebhooks<T>(
  cmd: Command,
  actor: string | undefined,
  fn: (c: WebhookClient) => Promise<T>,
): Promise<T> {
  const g = globals(cmd);
  const name = actorName(actor);
  if (g.api && g.api.toLowerCase().startsWith("grpc://"))
    throw new UsageError("the admin API is HTTP only: give --api http://host:port");
  const client = g.api ? http(g.api, loadClientConfig().adminToken, name) : await direct(name);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}
