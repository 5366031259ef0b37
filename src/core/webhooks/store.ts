/** Webhook endpoints, their secrets and deliveries in the database (migration 011). */
import { randomBytes } from "node:crypto";
import type { Database, Executor } from "../db/index.js";
import { EVENT_TYPES, type EventType } from "../events/format.js";

/** How long a replaced secret keeps signing. */
export const OLD_SECRET_HOURS = 24;

export type Endpoint = {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: string;
};

type EndpointRow = Omit<Endpoint, "event_types"> & { event_types: number[] | null };

const codesOf = (types: string[]): number[] | null =>
  types.includes("*") ? null : [...new Set(types)].map((t) => EVENT_TYPES.indexOf(t as EventType) + 1);

const typesOf = (codes: number[] | null): string[] => (codes === null ? ["*"] : codes.map((c) => EVENT_TYPES[c - 1]!));

const shape = (r: EndpointRow): Endpoint => ({ ...r, event_types: typesOf(r.event_types) });

export const newSecret = (): string => `whsec_${randomBytes(32).toString("hex")}`;

const COLUMNS = `e.id::text as id, e.url, e.event_types, e.description, wallet_iso(e.created_at) as created_at`;

export async function insertEndpoint(
  db: Database,
  e: { url: string; eventTypes: string[]; description?: string; actor: string },
): Promise<Endpoint & { secret: string }> {
  const secret = newSecret();
  return db.transaction(async (tx) => {
    const [row] = await tx.query<EndpointRow>(
      `insert into webhook_endpoints as e (id, url, event_types, description)
       values (wallet_next_id(), $1, $2::smallint[], $3) returning ${COLUMNS}`,
      [e.url, codesOf(e.eventTypes), e.description ?? null],
    );
    await tx.query("insert into webhook_secrets (endpoint_id, secret) values ($1, $2)", [row!.id, secret]);
    await audit(tx, e.actor, row!.id, { op: "add", url: e.url, event_types: e.eventTypes });
    return { ...shape(row!), secret };
  });
}

function audit(tx: Executor, actor: string, id: string, details: Record<string, unknown>): Promise<unknown> {
  return tx.query(
    `insert into audit_log (id, actor, action, target, details) values (wallet_next_id(), $1, 'webhook', $2, $3)`,
    [actor, `webhook:${id}`, JSON.stringify(details)],
  );
}

export async function listEndpoints(db: Executor): Promise<Endpoint[]> {
  const rows = await db.query<EndpointRow>(`select ${COLUMNS} from webhook_endpoints e order by e.id`);
  return rows.map(shape);
}

export async function getEndpoint(db: Executor, id: string): Promise<Endpoint | undefined> {
  const [row] = await db.query<EndpointRow>(`select ${COLUMNS} from webhook_endpoints e where e.id = $1`, [id]);
  return row && shape(row);
}

/** Deletes it with its pending deliveries (none goes out after this commits); false if there was none. */
export async function deleteEndpoint(db: Database, id: string, actor: string): Promise<boolean> {
  return db.transaction(async (tx) => {
    const gone = await tx.query("delete from webhook_endpoints where id = $1 returning id::text as id", [id]);
    if (gone.length === 0) return false;
    await audit(tx, actor, id, { op: "remove" });
    return true;
  });
}

/** A new secret; the one it replaces signs beside it for OLD_SECRET_HOURS. Undefined: no such endpoint. */
export async function rotateSecret(db: Database, id: string, actor: string): Promise<string | undefined> {
  const secret = newSecret();
  return db.transaction(async (tx) => {
    const [e] = await tx.query("select id::text as id from webhook_endpoints where id = $1 for update", [id]);
    if (!e) return undefined;
    await tx.query(
      `update webhook_secrets set retired_at = clock_timestamp() where endpoint_id = $1 and retired_at is null`,
      [id],
    );
    await tx.query(
      `delete from webhook_secrets where endpoint_id = $1 and retired_at < now() - make_interval(hours => $2)`,
      [id, OLD_SECRET_HOURS],
    );
    await tx.query("insert into webhook_secrets (endpoint_id, secret) values ($1, $2)", [id, secret]);
    await audit(tx, actor, id, { op: "rotate" });
    return secret;
  });
}

/** What a sender needs of each endpoint: where, and the secrets that sign now (newest first). */
export type Target = { id: string; url: string; secrets: string[] };

export async function loadTargets(db: Executor): Promise<Target[]> {
  return db.query<Target>(
    `select e.id::text as id, e.url,
            array(select s.secret from webhook_secrets s
                   where s.endpoint_id = e.id
                     and (s.retired_at is null or s.retired_at > now() - make_interval(hours => $1))
                   order by s.created_at desc) as secrets
       from webhook_endpoints e order by e.id`,
    [OLD_SECRET_HOURS],
  );
}

export type Delivery = {
  id: string;
  event_id: string;
  status: "pending" | "delivered" | "failed";
  attempts: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: string | null;
  delivered_at: string | null;
};

export async function listDeliveries(
  db: Executor,
  endpointId: string,
  q: { status?: string; after?: string; limit: number },
): Promise<{ deliveries: Delivery[]; next_after: string | null }> {
  const rows = await db.query<Delivery>(
    `select d.id::text as id, d.user_id || ':' || d.seq as event_id, d.status, d.attempts, d.last_status_code,
            d.last_error, wallet_iso(d.next_attempt_at) as next_attempt_at, wallet_iso(d.delivered_at) as delivered_at
       from webhook_deliveries d
      where d.endpoint_id = $1 and ($2::text is null or d.status = $2) and d.id > coalesce($3::bigint, 0)
      order by d.id limit $4`,
    [endpointId, q.status ?? null, q.after ?? null, q.limit],
  );
  return { deliveries: rows, next_after: rows.at(-1)?.id ?? q.after ?? null };
}

export async function retryDelivery(
  db: Database,
  endpointId: string,
  deliveryId: string,
  actor: string,
): Promise<"ok" | "not_failed" | "not_found"> {
  return db.transaction(async (tx) => {
    const [r] = await tx.query<{ o: "ok" | "not_failed" | "not_found" }>("select wallet_webhook_retry($1, $2) as o", [
      endpointId,
      deliveryId,
    ]);
    if (r!.o === "ok") await audit(tx, actor, endpointId, { op: "retry", delivery_id: deliveryId });
    return r!.o;
  });
}

/** Per endpoint: how long its oldest pending delivery's event has waited (seconds). */
export async function oldestPending(db: Executor): Promise<Map<string, number>> {
  const rows = await db.query<{ id: string; age: number | null }>(
    `select e.id::text as id,
            (select extract(epoch from now() - j.created_at)::float8
               from webhook_deliveries d join journal j on j.user_id = d.user_id and j.seq = d.seq
              where d.endpoint_id = e.id and d.status = 'pending' order by d.id limit 1) as age
       from webhook_endpoints e`,
  );
  return new Map(rows.map((r) => [r.id, r.age ?? 0]));
}

/** Delivered deliveries older than the days go (a batch at a time); pending and failed ones stay. */
export async function purgeDelivered(db: Executor, days: number): Promise<number> {
  const rows = await db.query(
    `delete from webhook_deliveries where id in (
       select id from webhook_deliveries
        where status = 'delivered' and delivered_at < now() - make_interval(days => $1) limit 10000)
     returning 1`,
    [days],
  );
  return rows.length;
}
