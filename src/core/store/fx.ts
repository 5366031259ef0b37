/** Exchange rates, quotes and the platform's positions (the exchange itself is wallet_apply's). */
import type { Executor } from "../db/index.js";

/** How many rows each currency's position is spread over (wallet_op_exchange's user_id % 16). */
export const POSITION_SHARDS = 16;

export type RateRow = { from: string; to: string; rate: string; updated_at: string };

/**
 * Sets the rate of a pair, creates the pair's position rows (so that an exchange only
 * ever locks rows that exist) and writes its audit entry, in one transaction. The
 * audit entry's id is the write's identity: sent again after a lost connection, the
 * same rate is set and the entry is not written twice.
 */
export async function upsertRate(
  db: Executor,
  r: { id: string; from: string; to: string; rate: string; actor: string; reason: string | null },
): Promise<RateRow> {
  const [row] = await db.query<RateRow>(
    `with previous as (select rate from fx_rates where from_currency = $2 and to_currency = $3),
     saved as (
       insert into fx_rates (from_currency, to_currency, rate, updated_by) values ($2, $3, $4::numeric, $5)
       on conflict (from_currency, to_currency)
         do update set rate = excluded.rate, updated_at = now(), updated_by = excluded.updated_by
       returning from_currency, to_currency, rate, updated_at),
     positions as (
       insert into fx_positions (currency, shard)
       select c, s from (values ($2), ($3)) v(c), generate_series(0, ${POSITION_SHARDS - 1}) s
       on conflict do nothing),
     audited as (
       insert into audit_log (id, actor, action, target, reason, details)
       select $1::bigint, $5, 'fx_rate', $2 || '/' || $3, $6,
              jsonb_build_object('rate', trim_scale($4::numeric)::text,
                                 'previous', (select trim_scale(rate)::text from previous))
       on conflict (id) do nothing)
     select from_currency as "from", to_currency as "to", trim_scale(rate)::text as rate,
            wallet_iso(updated_at) as updated_at
       from saved`,
    [r.id, r.from, r.to, r.rate, r.actor, r.reason],
  );
  return row!;
}

export function selectRates(db: Executor): Promise<RateRow[]> {
  return db.query<RateRow>(
    `select from_currency as "from", to_currency as "to", trim_scale(rate)::text as rate,
            wallet_iso(updated_at) as updated_at
       from fx_rates order by from_currency, to_currency`,
  );
}

/** A quote as wallet_op_quote answers it. */
export type QuoteRow = {
  quote_id: string;
  from_currency: string;
  to_currency: string;
  amount: number;
  converted_amount: number;
  rate: string;
  expires_at: string;
};

/** The platform's position in each currency it has exchanged: the sum of its shards. */
export function selectPositions(db: Executor): Promise<Array<{ currency: string; position: number }>> {
  return db.query(
    `select currency, sum(position)::bigint as position from fx_positions group by currency order by currency`,
  );
}
