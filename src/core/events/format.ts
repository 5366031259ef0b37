/** A journal row as an event: the shape the API returns and the relay publishes. */
import type { EventRow } from "../store/events.js";

export const EVENT_TYPES = [
  "deposit",
  "withdraw",
  "transfer_in",
  "transfer_out",
  "transfer_failed",
  "hold_created",
  "hold_captured",
  "hold_voided",
  "hold_expired",
  "reversal",
  "adjustment",
  "frozen",
  "unfrozen",
  "exchange_out",
  "exchange_in",
  "monitor_triggered",
  "monitor_resolved",
  // an operator set the wallet's credit line (amount: the new line): available_balance changed
  "credit_limit",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export type EventData = {
  amount: number;
  /** the wallet's currency (a freeze is recorded on the default currency's wallet) */
  currency: string;
  balance_after: number;
  available_balance_after: number;
  transaction_id?: string;
  transfer_id?: string;
  exchange_id?: string;
  counterparty_user_id?: number;
  hold_id?: string;
  reverses?: string;
  reason?: string;
  /** the client's reference (null when none), metadata ({} when none) and batch (null outside a batch) */
  reference: string | null;
  metadata: Record<string, string>;
  batch_id: string | null;
  /** a balance monitor's events: the monitor and its condition */
  monitor_id?: string;
  field?: string;
  operator?: string;
  value?: number;
};

export type WalletEvent = {
  /** "<user_id>:<sequence>": unique, and the message id it is published with */
  id: string;
  user_id: number;
  sequence: number;
  type: EventType;
  occurred_at: string;
  data: EventData;
};

/** The operations whose own id is the transaction id the API returned for them. */
const HAS_TRANSACTION_ID = new Set<EventType>(["deposit", "withdraw", "reversal", "adjustment"]);

export function toEvent(r: EventRow): WalletEvent {
  const type = EVENT_TYPES[r.event - 1]!;
  const data: EventData = {
    amount: r.amount,
    currency: r.currency,
    balance_after: r.balance_after,
    available_balance_after: r.available_after,
    reference: r.reference,
    metadata: r.metadata ?? {},
    batch_id: r.batch_id,
  };
  if (HAS_TRANSACTION_ID.has(type) || (type === "hold_captured" && r.transfer_id === null)) data.transaction_id = r.id;
  if (r.transfer_id !== null) data.transfer_id = r.transfer_id;
  if (type === "exchange_out" || type === "exchange_in") data.exchange_id = r.id;
  if (r.counterparty_user_id !== null) data.counterparty_user_id = r.counterparty_user_id;
  if (r.hold_id !== null) data.hold_id = r.hold_id;
  if (r.reverses !== null) data.reverses = r.reverses;
  if (type === "monitor_triggered" || type === "monitor_resolved") {
    // the journal row's reason is "<monitor id> <field> <operator> <value>" (migration 011)
    const [id, field, operator, value] = (r.reason ?? "").split(" ");
    Object.assign(data, { monitor_id: id, field, operator, value: Number(value) });
  } else if (r.reason !== null) data.reason = r.reason;
  return { id: `${r.user_id}:${r.seq}`, user_id: r.user_id, sequence: r.seq, type, occurred_at: r.created_at, data };
}
