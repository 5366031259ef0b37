/**
 * Every ledger invariant, each one query returning its violations (at most 100).
 * Sums are taken as numeric and compared as text: a total of many balances can pass 2^53.
 */
import type { Executor } from "../db/index.js";

export type Check = { check: string; sql: string; describe(row: Record<string, unknown>): string };

export const CHECKS: Check[] = [
  {
    check: "balance_equals_journal",
    sql: `select w.user_id, w.currency, w.balance::text as balance, coalesce(s.total, 0)::text as total
            from wallets w
            left join (select user_id, currency, sum(direction * amount) as total from journal
                        group by user_id, currency) s
              on s.user_id = w.user_id and s.currency = w.currency
           where w.balance <> coalesce(s.total, 0)
           limit 100`,
    describe: (r) => `wallet ${r.user_id} ${r.currency}: balance ${r.balance} but its journal sums to ${r.total}`,
  },
  {
    check: "balance_in_range",
    // below 0 only as far as a credit line the operator granted (the largest ever
    // granted, by the audit log: a line lowered below its use leaves the balance there)
    sql: `select w.user_id, w.currency, w.balance::text as balance, w.credit_limit, coalesce(g.granted, 0) as granted
            from wallets w
            left join (select substr(target, 8)::bigint as user_id, details ->> 'currency' as currency,
                              max((details ->> 'credit_limit')::bigint) as granted
                         from audit_log where action = 'credit_limit' group by 1, 2) g
              on g.user_id = w.user_id and g.currency = w.currency
           where w.balance > 9007199254740991 or w.credit_limit < 0 or w.credit_limit > coalesce(g.granted, 0)
              or w.balance < -greatest(w.credit_limit, coalesce(g.granted, 0))
           limit 100`,
    describe: (r) =>
      `wallet ${r.user_id} ${r.currency}: balance ${r.balance} out of range (credit line ${r.credit_limit}, ` +
      `largest granted ${r.granted})`,
  },
  {
    check: "debits_within_available",
    // every debit (money out, or a hold placed) left the available balance (balance +
    // credit line - holds, as it stood then) at 0 or above: the balance never went below
    // the credit line at the moment of a debit, and holds stayed within available funds
    sql: `select user_id, currency, seq, event, available_after::text as available_after from journal
           where (direction = -1 or event = 6) and available_after < 0 limit 100`,
    describe: (r) =>
      `journal row ${r.seq} (event ${r.event}) of wallet ${r.user_id} ${r.currency}: ` +
      `a debit left available ${r.available_after}`,
  },
  {
    check: "balance_after_chain",
    sql: `select user_id, currency, seq, balance_after::text as balance_after, running::text as running from (
            select user_id, currency, seq, balance_after,
                   sum(direction * amount) over (partition by user_id, currency order by seq) as running
              from journal) j
           where balance_after <> running limit 100`,
    describe: (r) =>
      `journal row ${r.seq} of wallet ${r.user_id} ${r.currency}: balance_after ${r.balance_after}, running sum ${r.running}`,
  },
  {
    check: "journal_sequence",
    // each user's rows, across its currencies, are numbered 1..seq with no gap and no
    // repeat (apart from published events that were pruned, which the user counts)
    sql: `select u.user_id, u.seq, u.pruned_events, coalesce(j.n, 0) as n, coalesce(j.top, 0) as top
            from users u
            left join (select user_id, count(*) as n, max(seq) as top from journal group by user_id) j
              on j.user_id = u.user_id
           where u.seq < coalesce(j.top, 0) or coalesce(j.n, 0) + u.pruned_events <> u.seq
           limit 100`,
    describe: (r) =>
      `user ${r.user_id}: sequence ${r.seq}, ${r.n} journal rows (+${r.pruned_events} pruned) numbered up to ${r.top}`,
  },
  {
    check: "transfer_pairs",
    // every transfer in the journal is one out row and one in row of the same amount,
    // between the same two wallets
    sql: `select transfer_id::text as transfer_id, count(*) as n from journal
           where kind = 3
           group by transfer_id
          having count(*) <> 2 or sum(direction) <> 0 or min(amount) <> max(amount)
              or min(currency) <> max(currency)
              or min(user_id) <> min(counterparty_user_id) or max(user_id) <> max(counterparty_user_id)
           limit 100`,
    describe: (r) => `transfer ${r.transfer_id}: ${r.n} journal rows that do not pair up`,
  },
  {
    check: "async_transfer_outcome",
    // a completed async transfer has its pair of rows; any other has none
    sql: `select t.id::text as id, t.status, count(j.user_id) as n
            from transfers t left join journal j on j.id = t.id and j.kind = 3
           group by t.id, t.status
          having (t.status = 'completed') <> (count(j.user_id) = 2) or count(j.user_id) not in (0, 2)
           limit 100`,
    describe: (r) => `transfer ${r.id} (${r.status}) has ${r.n} journal rows`,
  },
  {
    check: "held_equals_holds",
    // the held column is the sum of the wallet's holds still held (expired ones not yet
    // marked included: the marker moves both together)
    sql: `select w.user_id, w.currency, w.held, coalesce(h.total, 0) as total
            from wallets w
            left join (select user_id, currency, sum(amount) as total from holds where status = 'held'
                        group by user_id, currency) h
              on h.user_id = w.user_id and h.currency = w.currency
           where w.held <> coalesce(h.total, 0) or w.held < 0
           limit 100`,
    describe: (r) => `wallet ${r.user_id} ${r.currency}: held ${r.held}, its held holds sum to ${r.total} (held >= 0)`,
  },
  {
    check: "hold_captures",
    // a captured hold moved exactly its captured amount (out of the payer, into the
    // destination when it has one); any other hold moved nothing
    sql: `select h.id::text as id, h.status, h.captured_amount, coalesce(m.outs, 0) as outs, coalesce(m.ins, 0) as ins
            from holds h
            left join (select hold_id, sum(amount) filter (where direction = -1) as outs,
                              sum(amount) filter (where direction = 1) as ins
                         from journal where hold_id is not null and kind is not null group by hold_id) m
              on m.hold_id = h.id
           where (h.status = 'captured'
                  and (coalesce(m.outs, 0) <> h.captured_amount
                       or coalesce(m.ins, 0) <> case when h.destination_user_id is null then 0 else h.captured_amount end))
              or (h.status <> 'captured' and (coalesce(m.outs, 0) <> 0 or coalesce(m.ins, 0) <> 0))
           limit 100`,
    describe: (r) =>
      `hold ${r.id} (${r.status}, captured ${r.captured_amount ?? 0}): ${r.outs} out and ${r.ins} in the journal`,
  },
  {
    check: "reversal_totals",
    // the reversals of one transaction or transfer never add up to more than it
    sql: `select r.reverses::text as id, sum(r.amount) as reversed, o.amount as original
            from (select reverses, id, max(amount) as amount from journal where kind = 4 group by reverses, id) r
            left join (select id, max(amount) as amount from journal where kind in (1, 2, 3) group by id) o
              on o.id = r.reverses
           group by r.reverses, o.amount
          having o.amount is null or sum(r.amount) > o.amount
           limit 100`,
    describe: (r) => `${r.id}: reversed ${r.reversed} of ${r.original ?? "nothing (no such transaction)"}`,
  },
  {
    check: "exchange_pairs",
    // every exchange is one out row and one in row of one user, in two currencies, and
    // its quote names it and the same amounts
    sql: `select j.id::text as id, count(*) as n from journal j
            left join fx_quotes q on q.exchange_id = j.id
           where j.kind = 6
           group by j.id, q.user_id, q.from_currency, q.to_currency, q.amount, q.converted_amount
          having count(*) <> 2 or min(j.user_id) <> max(j.user_id) or min(j.user_id) <> min(q.user_id)
              or sum(case when j.direction = -1 and j.currency = q.from_currency then j.amount end) <> min(q.amount)
              or sum(case when j.direction = 1 and j.currency = q.to_currency then j.amount end)
                 <> min(q.converted_amount)
              or q.user_id is null
           limit 100`,
    describe: (r) => `exchange ${r.id}: ${r.n} journal rows that do not match its quote`,
  },
  {
    check: "positions_match_exchanges",
    // the platform's position in a currency is the other side of every exchange in it
    sql: `select p.currency, p.position::text as position, coalesce(e.total, 0)::text as exchanged
            from (select currency, sum(position) as position from fx_positions group by currency) p
            full join (select currency, -sum(direction * amount) as total from journal where kind = 6
                        group by currency) e on e.currency = p.currency
           where coalesce(p.position, 0) <> coalesce(e.total, 0)
           limit 100`,
    describe: (r) => `${r.currency}: position ${r.position ?? 0}, exchanges net ${r.exchanged}`,
  },
  {
    check: "money_conserved",
    // per currency: transfers only move money, exchanges only through the position, so
    // the balances plus the position equal what came in from outside minus what left
    sql: `select c.currency, (c.balances + c.position)::text as held, c.ledger::text as ledger from (
            select coalesce(b.currency, l.currency, p.currency) as currency,
                   coalesce(b.total, 0) as balances, coalesce(p.total, 0) as position, coalesce(l.total, 0) as ledger
              from (select currency, sum(balance) as total from wallets group by currency) b
              full join (select currency, sum(direction * amount) as total from journal
                          where kind is not null and kind <> 6 and counterparty_user_id is null
                          group by currency) l on l.currency = b.currency
              full join (select currency, sum(position) as total from fx_positions group by currency) p
                on p.currency = coalesce(b.currency, l.currency)) c
           where c.balances + c.position <> c.ledger`,
    describe: (r) =>
      `${r.currency}: balances plus the position sum to ${r.held}, money in minus money out to ${r.ledger}`,
  },
];

export async function ledgerSummary(
  db: Executor,
): Promise<{ wallets: number; entries: number; total: string; totals: Record<string, string> }> {
  const [row] = await db.query<{ wallets: number; entries: number; total: string; totals: Record<string, string> }>(
    `select (select count(*)::int from wallets) as wallets,
            (select count(*)::int from journal where kind is not null) as entries,
            (select coalesce(sum(balance), 0)::text from wallets) as total,
            (select coalesce(jsonb_object_agg(currency, total), '{}') from
              (select currency, sum(balance)::text as total from wallets group by currency) t) as totals`,
  );
  return row!;
}
