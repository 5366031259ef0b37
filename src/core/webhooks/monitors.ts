/**
 * Balance monitors (migration 011): judged in the database, at creation and by the
 * trigger that follows every change of the user's wallets, in the change's transaction.
 */
import type { Executor } from "../db/index.js";

export type Monitor = {
  id: string;
  user_id: number;
  currency: string;
  field: "balance" | "available_balance";
  operator: "lt" | "lte" | "gt" | "gte";
  value: number;
  state: "ok" | "triggered";
};

type Row = Omit<Monitor, "state"> & { triggered: boolean };

const shape = ({ triggered, ...m }: Row): Monitor => ({ ...m, state: triggered ? "triggered" : "ok" });

const COLUMNS = "m.id::text as id, m.user_id, m.currency, m.field, m.operator, m.value, m.triggered";

/** Undefined: the user was never seen. */
export async function createMonitor(
  db: Executor,
  m: Omit<Monitor, "id" | "state">,
  actor: string,
): Promise<Monitor | undefined> {
  const [row] = await db.query<Row & { found: boolean }>(
    `select ${COLUMNS}, m.id is not null as found
       from wallet_monitor_create($1, $2, $3, $4, $5, $6) m`,
    [m.user_id, m.currency, m.field, m.operator, m.value, actor],
  );
  if (!row?.found) return undefined;
  const { found: _found, ...rest } = row;
  return shape(rest);
}

export async function listMonitors(db: Executor, userId?: number): Promise<Monitor[]> {
  const rows = await db.query<Row>(
    `select ${COLUMNS} from wallet_monitors m where ($1::bigint is null or m.user_id = $1) order by m.id limit 10000`,
    [userId ?? null],
  );
  return rows.map(shape);
}

export async function removeMonitor(db: Executor, id: string, actor: string): Promise<boolean> {
  const [row] = await db.query<{ ok: boolean }>("select wallet_monitor_remove($1, $2) as ok", [id, actor]);
  return row!.ok;
}
