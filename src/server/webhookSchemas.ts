/** Requests and responses of the webhook and monitor admin API. */
import { z } from "zod";
import { EVENT_TYPES } from "../core/events/format.js";
import { MAX_CENTS } from "../core/money.js";
import { Currency } from "./fxSchemas.js";
import { UserId } from "./schemas.js";

const EventTypeOrAll = z.enum(["*", ...EVENT_TYPES], { error: `must be "*" or an event type` });

export const WebhookBody = z.strictObject({
  url: z.string().min(1).max(2000).meta({ description: "http or https", example: "https://example.com/hooks/wallet" }),
  event_types: z
    .array(EventTypeOrAll)
    .min(1, { error: "must list at least one event type (or *)" })
    .max(EVENT_TYPES.length + 1)
    .default(["*"]),
  description: z.string().max(500).optional(),
});

const Endpoint = z.object({
  id: z.string(),
  url: z.string(),
  event_types: z.array(z.string()),
  description: z.string().nullable(),
  created_at: z.string().meta({ format: "date-time" }),
});
export const WebhookResponse = Endpoint;
export const WebhookCreated = Endpoint.extend({
  secret: z.string().meta({ description: "whsec_...: shown here and at rotation only" }),
});
export const WebhookList = z.object({ webhooks: z.array(Endpoint) });
export const SecretResponse = z.object({ secret: z.string() });

const id = (what: string) => z.string().regex(/^[0-9]{1,19}$/, { error: `must be a ${what} id` });

export const DeliveriesQuery = z.strictObject({
  status: z.enum(["pending", "delivered", "failed"], { error: "must be pending, delivered or failed" }).optional(),
  after: id("delivery").optional(),
  limit: z
    .string()
    .regex(/^[0-9]{1,5}$/, { error: "must be a whole number" })
    .transform(Number)
    .pipe(z.number().int().min(1, { error: "must be at least 1" }).max(1000, { error: "must be at most 1000" }))
    .default(100),
});
export const DeliveriesResponse = z.object({
  deliveries: z.array(
    z.object({
      id: z.string(),
      event_id: z.string().meta({ description: "<user_id>:<sequence>, as Wallet-Event-Id" }),
      status: z.enum(["pending", "delivered", "failed"]),
      attempts: z.int(),
      last_status_code: z.int().nullable(),
      last_error: z.string().nullable(),
      next_attempt_at: z.string().nullable(),
      delivered_at: z.string().nullable(),
    }),
  ),
  next_after: z.string().nullable(),
});

export const MonitorBody = z.strictObject({
  user_id: UserId,
  currency: Currency.optional(),
  field: z.enum(["balance", "available_balance"], { error: "must be balance or available_balance" }),
  operator: z.enum(["lt", "lte", "gt", "gte"], { error: "must be lt, lte, gt or gte" }),
  value: z.int({ error: "must be an integer number of minor units" }).min(-MAX_CENTS).max(MAX_CENTS),
});
const Monitor = z.object({
  id: z.string(),
  user_id: z.int(),
  currency: z.string(),
  field: z.string(),
  operator: z.string(),
  value: z.int(),
  state: z.enum(["ok", "triggered"]),
});
export const MonitorResponse = Monitor;
export const MonitorList = z.object({ monitors: z.array(Monitor) });
export const MonitorQuery = z.strictObject({
  user_id: z
    .string()
    .regex(/^[0-9]{1,16}$/, { error: "must be a user id" })
    .transform(Number)
    .optional(),
});
