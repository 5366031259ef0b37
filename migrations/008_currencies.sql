-- 008: currencies. A wallet is (user, currency); a user holds one per currency.
--
-- What stays per user moves to a new table, users: the event sequence (one gap-free
-- count per user across all of the user's currencies: the journal's seq), the freeze
-- (it acts on every currency), the count of pruned events, and when the user was
-- first seen. The user's row is the lock: every money path locks the users it
-- touches in user-id order, and a wallet row is written only under its user's lock,
-- so a batch that touches several currencies of one user takes one lock for them
-- and cannot deadlock with another (the order is (user, then currency) throughout).
-- users.seq is also the freshness token of the caches and the read router: it grows
-- with every change of any of the user's wallets.
--
-- A wallet's own version (wallets.version) grows with every change of that wallet
-- and is what a client's expected_version compares with.
--
-- Existing rows take the currency the migrator passes as wallet.default_currency
-- (DEFAULT_CURRENCY), else USD. Adding a column with a constant default rewrites
-- nothing; the default is then dropped, so every new row names its currency.

create table users (
  user_id       bigint primary key check (user_id > 0),
  -- the last event sequence given to this user (journal.seq), across currencies
  seq           bigint not null default 0,
  frozen        boolean not null default false,
  frozen_reason text,
  -- published events pruned from the journal (the sequence still counts them)
  pruned_events bigint not null default 0,
  created_at    timestamptz not null default now()
);
insert into users (user_id, seq, frozen, frozen_reason, pruned_events, created_at)
select user_id, version, frozen, frozen_reason, pruned_events, created_at from wallets;

alter table journal drop constraint journal_user_id_fkey;
alter table holds drop constraint holds_user_id_fkey;
alter table holds drop constraint holds_destination_user_id_fkey;

do $$
declare
  v_currency text := coalesce(nullif(current_setting('wallet.default_currency', true), ''), 'USD');
  v_table text;
begin
  foreach v_table in array array['wallets', 'journal', 'holds', 'transfers'] loop
    execute format('alter table %I add column currency text not null default %L', v_table, v_currency);
    execute format('alter table %I alter column currency drop default', v_table);
  end loop;
end
$$;

alter table wallets drop constraint wallets_pkey;
alter table wallets add primary key (user_id, currency);
alter table wallets add constraint wallets_currency_check check (currency ~ '^[A-Z]{3}$');
alter table wallets add constraint wallets_user_id_fkey foreign key (user_id) references users (user_id);
alter table wallets drop column frozen;
alter table wallets drop column frozen_reason;
alter table wallets drop column pruned_events;

alter table journal add constraint journal_user_id_fkey foreign key (user_id) references users (user_id);
alter table holds add constraint holds_user_id_fkey foreign key (user_id) references users (user_id);
alter table holds add constraint holds_destination_user_id_fkey
  foreign key (destination_user_id) references users (user_id);

-- history kind 6: exchange
alter table journal drop constraint journal_kind_check;
alter table journal add constraint journal_kind_check check (kind between 1 and 6);

-- A wallet's history, all kinds or one: ranges of (user, currency). The primary key
-- (user_id, seq) stays the user's event order across currencies.
drop index journal_kind_idx;
create index journal_kind_idx on journal (user_id, currency, kind, seq desc) where kind is not null;
create index journal_money_idx on journal (user_id, currency, seq desc) where kind is not null;
drop index journal_time_idx;
create index journal_time_idx on journal (user_id, currency, created_at);
-- one operation applies once to one wallet (an exchange writes two rows of one user
-- under one id: one per currency)
drop index journal_id_idx;
create unique index journal_id_idx on journal (id, user_id, currency);

-- Rates set by the operator: one major unit of from buys rate major units of to.
create table fx_rates (
  from_currency text not null check (from_currency ~ '^[A-Z]{3}$'),
  to_currency   text not null check (to_currency ~ '^[A-Z]{3}$' and to_currency <> from_currency),
  rate          numeric not null check (rate > 0),
  updated_at    timestamptz not null default now(),
  updated_by    text not null,
  primary key (from_currency, to_currency)
);

-- A quote keeps its rate until it expires; executed at most once.
create table fx_quotes (
  id               bigint primary key,
  user_id          bigint not null references users (user_id),
  from_currency    text not null,
  to_currency      text not null,
  amount           bigint not null check (amount > 0),
  converted_amount bigint not null check (converted_amount > 0),
  rate             numeric not null,
  expires_at       timestamptz not null,
  created_at       timestamptz not null default now(),
  exchange_id      bigint
);

-- The platform's position per currency: the other side of every exchange (it takes
-- in the amount sold, pays out the amount bought). Spread over shards (by the user's
-- id) so that exchanges of different users do not queue on one row; the position is
-- the sum of its shards. Locked after the users, in (currency, shard) order.
create table fx_positions (
  currency text not null,
  shard    smallint not null,
  position bigint not null default 0,
  primary key (currency, shard)
);

alter table audit_log drop constraint audit_log_action_check;
alter table audit_log add constraint audit_log_action_check
  check (action in ('freeze', 'unfreeze', 'reversal', 'adjustment', 'transfer_retry', 'fx_rate'));

-- the operation's currency (a code; the service fills in DEFAULT_CURRENCY); a quote's
-- target currency and the difference of the two currencies' minor unit digits
alter type wallet_op add attribute cur text;
alter type wallet_op add attribute cur_to text;
alter type wallet_op add attribute shift integer;

-- Records one change of the wallet (p_user, p_currency), under the user's lock, and
-- returns its journal row (not yet inserted: wallet_flush writes a batch's rows at
-- once), or null when refused (a debit the wallet cannot cover or its user's freeze
-- refuses; a credit past 2^53-1). A debit takes money (p_direction < 0) or reserves
-- it (p_held > 0); it is judged against the available balance, and refused while the
-- user is frozen unless it is the operator's. A wallet opens on its first change that
-- takes nothing from it (a credit, or an event); the row's seq is the user's next
-- event sequence, the wallet's version grows by one.
drop function wallet_record(bigint, smallint, smallint, smallint, bigint, bigint, bigint, bigint, bigint, bigint, text,
                            bigint, timestamptz, boolean);
create function wallet_record(p_user bigint, p_currency text, p_event smallint, p_kind smallint,
                              p_direction smallint, p_amount bigint, p_id bigint,
                              p_counterparty bigint default null, p_transfer bigint default null,
                              p_hold bigint default null, p_reverses bigint default null,
                              p_reason text default null, p_held bigint default 0,
                              p_expires timestamptz default null, p_operator boolean default false)
returns journal
language plpgsql as $$
declare
  j journal;
  v_debit boolean := p_direction < 0 or p_held > 0;
  v_need bigint := (case when p_direction < 0 then p_amount else 0 end) + p_held;
begin
  for attempt in 1 .. 2 loop
    update wallets w set balance = w.balance + p_direction * p_amount, held = w.held + p_held,
                         hold_expiry = case when p_expires is null then w.hold_expiry
                                            else least(coalesce(w.hold_expiry, p_expires), p_expires) end,
                         version = w.version + 1, updated_at = now()
     where w.user_id = p_user and w.currency = p_currency
       and (not v_debit or w.balance - w.held >= v_need
                           and (p_operator or not exists (select 1 from users u where u.user_id = p_user and u.frozen)))
       and (p_direction <= 0 or w.balance <= 9007199254740991 - p_amount)
    returning w.balance, w.balance - w.held into j.balance_after, j.available_after;
    exit when found;
    if attempt = 2 or v_debit then return null; end if;
    insert into wallets (user_id, currency) values (p_user, p_currency) on conflict do nothing;
    if not found then return null; end if; -- it was there: the credit was refused
  end loop;
  update users set seq = seq + 1 where user_id = p_user returning seq into j.seq;
  j.user_id := p_user; j.currency := p_currency; j.id := p_id; j.event := p_event; j.kind := p_kind;
  j.direction := p_direction; j.amount := p_amount; j.counterparty_user_id := p_counterparty;
  j.transfer_id := p_transfer; j.hold_id := p_hold; j.reverses := p_reverses; j.reason := p_reason;
  j.created_at := clock_timestamp();
  return j;
end
$$;

-- Why a debit of p_amount from (p_user, p_currency) is refused: no such user, the
-- user's freeze (not for the operator), or too little available (a wallet never
-- opened has none).
drop function wallet_debit_refused(bigint, bigint, boolean);
drop function wallet_debit_refusal(wallets, bigint);
drop function wallet_operator_refusal(wallets, bigint);
create function wallet_debit_refused(p_user bigint, p_currency text, p_amount bigint,
                                     p_operator boolean default false) returns wallet_step
language sql stable as $$
  select wallet_refuse(case
    when u.user_id is null then 'wallet_not_found'
    when u.frozen and not p_operator then 'wallet_frozen'
    when coalesce((select w.balance - w.held from wallets w where w.user_id = p_user and w.currency = p_currency), 0)
         < p_amount then 'insufficient_funds' end)
    from (select 1) one left join users u on u.user_id = p_user
$$;

-- Releases a locked user's expired holds, in every currency: each becomes 'expired',
-- its amount is no longer held, and the payer's journal records hold_expired.
create or replace function wallet_release_expired(p_user bigint) returns journal[]
language plpgsql as $$
declare
  h record;
  v_rows journal[] := '{}';
begin
  for h in update holds set status = 'expired', closed_at = now()
            where user_id = p_user and status = 'held' and expires_at <= now()
        returning id, currency, amount, destination_user_id loop
    v_rows := v_rows || wallet_record(p_user, h.currency, 9::smallint, null, 0::smallint, h.amount, wallet_next_id(),
                                      h.destination_user_id, null, h.id, p_held => -h.amount);
  end loop;
  -- (x, not h: h is this function's loop variable)
  update wallets w set hold_expiry = (select min(x.expires_at) from holds x
                                       where x.user_id = p_user and x.currency = w.currency and x.status = 'held')
   where w.user_id = p_user and w.hold_expiry is not null;
  return v_rows;
end
$$;

-- Locks the users (in user-id order) and so all of their wallets; releases expired
-- holds first, under the same lock.
create or replace function wallet_lock(p_users bigint[], out rows journal[], out locked bigint[])
language plpgsql as $$
declare
  u record;
begin
  rows := '{}';
  locked := array(select x.user_id from users x where x.user_id = any (p_users) order by x.user_id for update);
  -- one look for the batch: which of its users have a hold past its expiry (rare)
  for u in select distinct w.user_id from wallets w
            where w.user_id = any (locked) and w.hold_expiry <= now() order by w.user_id loop
    rows := rows || wallet_release_expired(u.user_id);
  end loop;
end
$$;

create or replace function wallet_expire_holds(p_limit integer) returns integer
language plpgsql as $$
declare
  v_users bigint[];
  v_user bigint;
  v_rows journal[] := '{}';
begin
  v_users := array(select distinct h.user_id from holds h where h.status = 'held' and h.expires_at <= now()
                    limit p_limit);
  if cardinality(v_users) = 0 then return 0; end if;
  for v_user in select user_id from users where user_id = any (v_users) order by user_id for update skip locked loop
    v_rows := v_rows || wallet_release_expired(v_user);
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
  return cardinality(v_rows);
end
$$;

create or replace function wallet_prune_events(p_before timestamptz) returns integer
language plpgsql as $$
declare
  n integer;
begin
  with gone as (
    delete from journal j using relay_cursor c
     where j.user_id = c.user_id and j.seq <= c.published_seq and j.kind is null and j.created_at < p_before
    returning j.user_id),
  counted as (select user_id, count(*) as k from gone group by user_id),
  marked as (update users u set pruned_events = u.pruned_events + counted.k from counted
              where u.user_id = counted.user_id returning counted.k)
  select coalesce(sum(k), 0) into n from marked;
  return n;
end
$$;

-- The money operations, each in its currency.
drop function wallet_op_deposit(bigint, bigint, bigint);
create function wallet_op_deposit(p_id bigint, p_user bigint, p_currency text, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  j journal := wallet_record(p_user, p_currency, 1::smallint, 1::smallint, 1::smallint, p_amount, p_id);
begin
  if j.seq is null then return wallet_refuse('balance_limit_exceeded'); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text, 'currency', p_currency),
          array[j])::wallet_step;
end
$$;

drop function wallet_op_withdraw(bigint, bigint, bigint);
create function wallet_op_withdraw(p_id bigint, p_user bigint, p_currency text, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  j journal := wallet_record(p_user, p_currency, 2::smallint, 2::smallint, -1::smallint, p_amount, p_id);
begin
  if j.seq is null then return wallet_debit_refused(p_user, p_currency, p_amount); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text, 'currency', p_currency),
          array[j])::wallet_step;
end
$$;

-- A transfer within one currency; the receiver must be a user the service has seen
-- (in any currency); its wallet in this currency opens with the credit.
drop function wallet_op_transfer(bigint, bigint, bigint, bigint);
create function wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_currency text, p_amount bigint)
returns wallet_step
language plpgsql as $$
declare
  a journal;
  v_to_balance bigint;
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  select coalesce(w.balance, 0) into v_to_balance
    from users u left join wallets w on w.user_id = u.user_id and w.currency = p_currency where u.user_id = p_to;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_to_balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  a := wallet_record(p_from, p_currency, 4::smallint, 3::smallint, -1::smallint, p_amount, p_id, p_to, p_id);
  if a.seq is null then return wallet_debit_refused(p_from, p_currency, p_amount); end if;
  return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', a.balance_after,
                                   'currency', p_currency),
          array[a, wallet_record(p_to, p_currency, 3::smallint, 3::smallint, 1::smallint, p_amount, p_id, p_from,
                                 p_id)])::wallet_step;
end
$$;

drop function wallet_op_accept(bigint, bigint, bigint, bigint);
create function wallet_op_accept(p_id bigint, p_from bigint, p_to bigint, p_currency text, p_amount bigint)
returns wallet_step
language plpgsql as $$
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  if not exists (select 1 from users where user_id = p_to) then return wallet_refuse('wallet_not_found'); end if;
  if (select frozen from users where user_id = p_from) then return wallet_refuse('wallet_frozen'); end if;
  insert into transfers (id, from_user_id, to_user_id, currency, amount, async, status)
  values (p_id, p_from, p_to, p_currency, p_amount, true, 'pending');
  return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
end
$$;

create or replace function wallet_apply_transfers(p_ids bigint[]) returns table (id bigint, outcome text, changes bigint[])
language plpgsql as $$
declare
  t record;
  s wallet_step;
  v_rows journal[];
begin
  v_rows := (wallet_lock(array(
    select c.from_user_id from transfers c where c.id = any (p_ids)
    union select c.to_user_id from transfers c where c.id = any (p_ids)))).rows;
  -- row locks make the apply safe on its own: a transfer another transaction has
  -- meanwhile applied is re-checked, found no longer pending, and skipped
  for t in select c.id, c.from_user_id, c.to_user_id, c.currency, c.amount from transfers c
            where c.id = any (p_ids) and c.status = 'pending' order by c.id for update loop
    s := wallet_op_transfer(t.id, t.from_user_id, t.to_user_id, t.currency, t.amount);
    if s.outcome <> 'ok' then
      s.rows := array[wallet_record(t.from_user_id, t.currency, 5::smallint, null, 0::smallint, t.amount, t.id,
                                    t.to_user_id, t.id, p_reason => s.outcome)];
    end if;
    v_rows := v_rows || s.rows;
    changes := array(select x from unnest(s.rows) r, lateral (values (r.user_id), (r.seq)) v(x));
    update transfers c set status = case when s.outcome = 'ok' then 'completed' else 'failed' end,
                           failure_reason = nullif(s.outcome, 'ok'),
                           attempts = c.attempts + 1, updated_at = now(), completed_at = now()
     where c.id = t.id;
    id := t.id;
    outcome := s.outcome;
    return next;
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
end
$$;

create or replace function wallet_hold_json(h holds) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'hold_id', h.id::text,
    'status', case when h.status = 'held' and h.expires_at <= now() then 'expired' else h.status end,
    'amount', h.amount,
    'currency', h.currency,
    'captured_amount', h.captured_amount,
    'user_id', h.user_id,
    'destination_user_id', h.destination_user_id,
    'expires_at', wallet_iso(h.expires_at),
    'created_at', wallet_iso(h.created_at))
$$;

drop function wallet_op_hold(bigint, bigint, bigint, bigint, integer);
create function wallet_op_hold(p_id bigint, p_user bigint, p_dest bigint, p_currency text, p_amount bigint,
                               p_expires_s integer) returns wallet_step
language plpgsql as $$
declare
  j journal;
  h holds;
begin
  if p_dest = p_user then return wallet_refuse('same_wallet'); end if;
  if p_dest is not null and not exists (select 1 from users where user_id = p_dest) then
    return wallet_refuse('wallet_not_found');
  end if;
  j := wallet_record(p_user, p_currency, 6::smallint, null, 0::smallint, p_amount, p_id, p_dest, null, p_id,
                     p_held => p_amount, p_expires => now() + make_interval(secs => p_expires_s));
  if j.seq is null then return wallet_debit_refused(p_user, p_currency, p_amount); end if;
  insert into holds (id, user_id, destination_user_id, currency, amount, expires_at)
  values (p_id, p_user, p_dest, p_currency, p_amount, now() + make_interval(secs => p_expires_s))
  returning * into h;
  return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after, 'available_balance', j.available_after),
          array[j])::wallet_step;
end
$$;

create or replace function wallet_op_capture(p_id bigint, p_actor bigint, p_hold bigint, p_amount bigint)
returns wallet_step
language plpgsql as $$
declare
  h holds;
  v_amount bigint;
  v_dest bigint;
  a journal;
  v_rows journal[];
  v_refusal text;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  v_amount := coalesce(p_amount, h.amount);
  if v_amount > h.amount then return wallet_refuse('amount_exceeds_hold'); end if;
  v_dest := h.destination_user_id;
  if v_dest is not null
     and coalesce((select balance from wallets where user_id = v_dest and currency = h.currency), 0)
         > 9007199254740991 - v_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  a := wallet_record(h.user_id, h.currency, 7::smallint, case when v_dest is null then 2 else 3 end::smallint,
                     -1::smallint, v_amount, p_id, v_dest, case when v_dest is not null then p_id end, h.id,
                     p_held => -h.amount);
  if a.seq is null then return wallet_debit_refused(h.user_id, h.currency, v_amount - h.amount); end if;
  v_rows := array[a];
  if v_dest is not null then
    v_rows := v_rows || wallet_record(v_dest, h.currency, 3::smallint, 3::smallint, 1::smallint, v_amount, p_id,
                                      h.user_id, p_id, h.id);
  end if;
  update holds set status = 'captured', captured_amount = v_amount, closed_at = now(), closed_by = p_id
   where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, a), v_rows)::wallet_step;
end
$$;

create or replace function wallet_op_void(p_id bigint, p_actor bigint, p_hold bigint) returns wallet_step
language plpgsql as $$
declare
  h holds;
  j journal;
  v_refusal text;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  j := wallet_record(h.user_id, h.currency, 8::smallint, null, 0::smallint, h.amount, p_id, h.destination_user_id,
                     null, h.id, p_held => -h.amount);
  update holds set status = 'voided', closed_at = now(), closed_by = p_id where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, j), array[j])::wallet_step;
end
$$;

-- The operator's view of a user's wallet in one currency (balance 0 in a currency the
-- user has never had); the freeze is the user's.
drop function wallet_inspect_json(bigint);
create function wallet_inspect_json(p_user bigint, p_currency text) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'user_id', u.user_id,
    'currency', p_currency,
    'balance', coalesce(w.balance, 0),
    'available_balance', coalesce(w.balance - w.held, 0)
                         + coalesce((select sum(h.amount) from holds h
                                      where h.user_id = u.user_id and h.currency = p_currency and h.status = 'held'
                                        and h.expires_at <= now()), 0),
    'frozen', u.frozen,
    'frozen_reason', u.frozen_reason,
    'active_holds', (select count(*) from holds h where h.user_id = u.user_id and h.currency = p_currency
                                                   and h.status = 'held' and h.expires_at > now()),
    'pending_transfers', (select count(*) from transfers t where t.from_user_id = u.user_id
                                                            and t.currency = p_currency
                                                            and t.status in ('pending', 'dead')),
    'created_at', wallet_iso(u.created_at))
  from users u left join wallets w on w.user_id = u.user_id and w.currency = p_currency
  where u.user_id = p_user
$$;

create or replace function wallet_adjustment_json(j journal) returns jsonb
language sql immutable as $$
  select jsonb_build_object('transaction_id', j.id::text, 'user_id', j.user_id, 'currency', j.currency,
                            'amount', j.direction * j.amount, 'balance', j.balance_after,
                            'available_balance', j.available_after, 'reason', j.reason)
$$;

drop function wallet_op_adjust(bigint, bigint, bigint, text, text);
create function wallet_op_adjust(p_id bigint, p_user bigint, p_currency text, p_amount bigint, p_actor text,
                                 p_reason text) returns wallet_step
language plpgsql as $$
declare
  j journal;
begin
  if not exists (select 1 from users where user_id = p_user) then return wallet_refuse('wallet_not_found'); end if;
  j := wallet_record(p_user, p_currency, 11::smallint, 5::smallint, sign(p_amount)::smallint, abs(p_amount), p_id,
                     p_reason => p_reason, p_operator => true);
  if j.seq is null then
    if p_amount > 0 then return wallet_refuse('balance_limit_exceeded'); end if;
    return wallet_debit_refused(p_user, p_currency, abs(p_amount), true);
  end if;
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'adjustment', 'wallet:' || p_user, p_reason,
          jsonb_build_object('amount', p_amount, 'currency', p_currency));
  return ('ok', wallet_adjustment_json(j), array[j])::wallet_step;
end
$$;

-- A freeze acts on all of the user's currencies; its event is recorded on the wallet
-- in p_currency (the default currency), as the single-currency service did.
drop function wallet_op_freeze(bigint, bigint, boolean, text, text);
create function wallet_op_freeze(p_id bigint, p_user bigint, p_currency text, p_freeze boolean, p_actor text,
                                 p_reason text) returns wallet_step
language plpgsql as $$
declare
  v_frozen boolean;
  j journal;
begin
  select frozen into v_frozen from users where user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_frozen = p_freeze then return ('ok', wallet_inspect_json(p_user, p_currency), null)::wallet_step; end if;
  update users set frozen = p_freeze, frozen_reason = case when p_freeze then p_reason end where user_id = p_user;
  j := wallet_record(p_user, p_currency, case when p_freeze then 12 else 13 end::smallint, null, 0::smallint, 0, p_id,
                     p_reason => p_reason);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, case when p_freeze then 'freeze' else 'unfreeze' end, 'wallet:' || p_user, p_reason, '{}');
  return ('ok', wallet_inspect_json(p_user, p_currency), array[j])::wallet_step;
end
$$;

-- A reversal is in the currency of what it reverses.
create or replace function wallet_op_reverse(p_id bigint, p_target bigint, p_amount bigint, p_actor text,
                                             p_reason text) returns wallet_step
language plpgsql as $$
declare
  v_out journal; -- the original's row that took money (a withdraw, a transfer's sender)
  v_in journal;  -- the original's row that gave money (a deposit, a transfer's receiver)
  v_kind smallint;
  v_currency text;
  v_original bigint;
  v_done bigint;
  v_amount bigint;
  a journal;
  v_rows journal[];
  v_details jsonb;
begin
  select * into v_out from journal where id = p_target and kind is not null and direction = -1;
  select * into v_in from journal where id = p_target and kind is not null and direction = 1;
  v_kind := coalesce(v_out.kind, v_in.kind);
  if v_kind is null then
    if exists (select 1 from transfers where id = p_target) then return wallet_refuse('not_reversible'); end if;
    return wallet_refuse('not_found');
  end if;
  if v_kind in (4, 5, 6) then return wallet_refuse('not_reversible'); end if;
  v_currency := coalesce(v_out.currency, v_in.currency);
  v_original := coalesce(v_out.amount, v_in.amount);
  select coalesce(sum(amount), 0) into v_done from journal
   where reverses = p_target and kind = 4 and direction = case when v_in.seq is not null then -1 else 1 end;
  v_amount := coalesce(p_amount, v_original - v_done);
  if v_amount <= 0 or v_done + v_amount > v_original then return wallet_refuse('reversal_exceeds_original'); end if;
  -- the money goes back: out of whoever received it, into whoever paid it (checked
  -- first, so that once the debit is made the credit cannot fail)
  if v_out.seq is not null
     and coalesce((select balance from wallets where user_id = v_out.user_id and currency = v_currency), 0)
         > 9007199254740991 - v_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  v_rows := '{}';
  if v_in.seq is not null then
    a := wallet_record(v_in.user_id, v_currency, 10::smallint, 4::smallint, -1::smallint, v_amount, p_id,
                       v_out.user_id, null, null, p_target, p_reason, p_operator => true);
    if a.seq is null then return wallet_debit_refused(v_in.user_id, v_currency, v_amount, true); end if;
    v_rows := array[a];
  end if;
  if v_out.seq is not null then
    v_rows := v_rows || wallet_record(v_out.user_id, v_currency, 10::smallint, 4::smallint, 1::smallint, v_amount,
                                      p_id, v_in.user_id, null, null, p_target, p_reason, p_operator => true);
  end if;
  v_details := jsonb_build_object(
    'amount', v_amount, 'original_amount', v_original, 'remaining', v_original - v_done - v_amount,
    'kind', case v_kind when 1 then 'deposit' when 2 then 'withdraw' else 'transfer' end,
    'currency', v_currency, 'from_user_id', v_in.user_id, 'to_user_id', v_out.user_id);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'reversal', case when v_kind = 3 then 'transfer:' else 'transaction:' end || p_target,
          p_reason, v_details);
  return ('ok', wallet_reversal_json(p_id, p_target, p_reason, v_details), v_rows)::wallet_step;
end
$$;

-- Executes a quote: its amount leaves the user's from wallet (judged like a
-- withdrawal: available balance, freeze) and its converted amount arrives in the to
-- wallet (opened if new), in this transaction; the platform's position takes the
-- other side of both. A quote executes once; past expires_at (database clock) it is
-- refused. A refusal leaves the quote usable.
create function wallet_op_exchange(p_id bigint, p_user bigint, p_quote bigint) returns wallet_step
language plpgsql as $$
declare
  q fx_quotes;
  a journal;
  b journal;
  v_shard smallint := (p_user % 16)::smallint;
begin
  select * into q from fx_quotes where id = p_quote for update;
  if not found or q.user_id <> p_user then return wallet_refuse('not_found'); end if;
  if q.exchange_id is not null then return wallet_refuse('quote_used'); end if;
  if q.expires_at <= now() then return wallet_refuse('quote_expired'); end if;
  if coalesce((select balance from wallets where user_id = p_user and currency = q.to_currency), 0)
     > 9007199254740991 - q.converted_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  a := wallet_record(p_user, q.from_currency, 14::smallint, 6::smallint, -1::smallint, q.amount, p_id);
  if a.seq is null then return wallet_debit_refused(p_user, q.from_currency, q.amount); end if;
  b := wallet_record(p_user, q.to_currency, 15::smallint, 6::smallint, 1::smallint, q.converted_amount, p_id);
  update fx_positions set position = position + q.amount where currency = q.from_currency and shard = v_shard;
  update fx_positions set position = position - q.converted_amount where currency = q.to_currency and shard = v_shard;
  update fx_quotes set exchange_id = p_id where id = q.id;
  return ('ok', wallet_exchange_json(p_id, q, a.balance_after, b.balance_after), array[a, b])::wallet_step;
end
$$;

create function wallet_exchange_json(p_id bigint, q fx_quotes, p_from_balance bigint, p_to_balance bigint)
returns jsonb
language sql immutable as $$
  select jsonb_build_object('exchange_id', p_id::text, 'quote_id', q.id::text, 'from_currency', q.from_currency,
                            'to_currency', q.to_currency, 'amount', q.amount, 'converted_amount', q.converted_amount,
                            'rate', trim_scale(q.rate)::text,
                            'balances', jsonb_build_object(q.from_currency, p_from_balance, q.to_currency, p_to_balance))
$$;

-- The position rows a batch's exchanges will change, locked after the users and in
-- (currency, shard) order, so that batches exchanging in opposite directions wait
-- for each other instead of deadlocking. Setting a rate creates a pair's rows.
create function wallet_lock_positions(p_quotes bigint[]) returns void
language sql as $$
  select 1 from fx_positions p
   where (p.currency, p.shard) in (select c, (q.user_id % 16)::smallint from fx_quotes q,
                                          lateral (values (q.from_currency), (q.to_currency)) v(c)
                                    where q.id = any (p_quotes))
   order by p.currency, p.shard
   for update of p
$$;

create or replace function wallet_replay_journal(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  j journal;
begin
  select * into j from journal where id = o.id and user_id = o.u and currency = o.cur;
  if not found then return null; end if;
  if o.k = 3 then
    return ('ok', jsonb_build_object('success', true, 'transfer_id', o.id::text, 'balance', j.balance_after,
                                     'currency', j.currency), null)::wallet_step;
  end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', o.id::text, 'currency', j.currency),
          null)::wallet_step;
end
$$;

create or replace function wallet_replay_hold(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  j journal;
  h holds;
begin
  select * into h from holds where id = case when o.k = 5 then o.id else o.r end;
  if not found or (o.k <> 5 and h.closed_by is distinct from o.id) then return null; end if;
  select * into j from journal where id = o.id and user_id = h.user_id and currency = h.currency;
  if o.k = 5 then
    return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after,
                                                            'available_balance', j.available_after), null)::wallet_step;
  end if;
  return ('ok', wallet_hold_result(h, j), null)::wallet_step;
end
$$;

create or replace function wallet_replay_operator(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  a audit_log;
  j journal;
begin
  select * into a from audit_log where id = o.id;
  if not found then return null; end if;
  if o.k = 8 then
    return ('ok', wallet_reversal_json(o.id, o.r, a.reason, a.details), null)::wallet_step;
  elsif o.k = 9 then
    select * into j from journal where id = o.id and user_id = o.c and currency = o.cur;
    return ('ok', wallet_adjustment_json(j), null)::wallet_step;
  end if;
  return ('ok', wallet_inspect_json(o.c, o.cur), null)::wallet_step;
end
$$;

create function wallet_replay_exchange(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  q fx_quotes;
begin
  select * into q from fx_quotes where id = o.r and exchange_id = o.id;
  if not found then return null; end if;
  return ('ok', wallet_exchange_json(o.id, q,
            (select j.balance_after from journal j where j.id = o.id and j.user_id = q.user_id
                                                     and j.currency = q.from_currency),
            (select j.balance_after from journal j where j.id = o.id and j.user_id = q.user_id
                                                     and j.currency = q.to_currency)), null)::wallet_step;
end
$$;

-- A quote at the pair's rate now: converted_amount = floor(amount x rate x 10^shift),
-- shift being the minor digits of to minus those of from, in exact numeric arithmetic.
-- It goes through wallet_apply like a money operation so that its Idempotency-Key and
-- its identity after a lost connection work as for every POST.
create function wallet_op_quote(p_id bigint, p_user bigint, p_from text, p_to text, p_amount bigint,
                                p_shift integer, p_ttl_s integer) returns wallet_step
language plpgsql as $$
declare
  v_rate numeric;
  v_converted numeric;
  q fx_quotes;
begin
  select rate into v_rate from fx_rates where from_currency = p_from and to_currency = p_to;
  if not found then return wallet_refuse('rate_unavailable'); end if;
  v_converted := floor(p_amount * v_rate * power(10::numeric, p_shift));
  if v_converted < 1 then return wallet_refuse('amount_too_small'); end if;
  if v_converted > 9007199254740991 then return wallet_refuse('balance_limit_exceeded'); end if;
  insert into fx_quotes (id, user_id, from_currency, to_currency, amount, converted_amount, rate, expires_at)
  values (p_id, p_user, p_from, p_to, p_amount, v_converted, v_rate, now() + make_interval(secs => p_ttl_s))
  returning * into q;
  return ('ok', wallet_quote_json(q), null)::wallet_step;
end
$$;

create function wallet_quote_json(q fx_quotes) returns jsonb
language sql immutable as $$
  select jsonb_build_object('quote_id', q.id::text, 'from_currency', q.from_currency, 'to_currency', q.to_currency,
                            'amount', q.amount, 'converted_amount', q.converted_amount,
                            'rate', trim_scale(q.rate)::text, 'expires_at', wallet_iso(q.expires_at))
$$;

create function wallet_replay_quote(o wallet_op) returns wallet_step
language sql stable as $$
  select ('ok', wallet_quote_json(q), null)::wallet_step from fx_quotes q where q.id = o.id
$$;

-- kind: 1 deposit, 2 withdraw, 3 transfer, 4 transfer v2 acceptance, 5 hold, 6 capture,
-- 7 void, 8 reversal, 9 adjustment, 10 freeze, 11 unfreeze, 12 exchange (r: the quote),
-- 13 quote (cur -> cur_to)
create or replace function wallet_dispatch(o wallet_op, p_replay boolean) returns wallet_step
language plpgsql as $$
begin
  case o.k
    when 1 then return case when p_replay then wallet_replay_journal(o) else wallet_op_deposit(o.id, o.u, o.cur, o.a) end;
    when 2 then return case when p_replay then wallet_replay_journal(o) else wallet_op_withdraw(o.id, o.u, o.cur, o.a) end;
    when 3 then return case when p_replay then wallet_replay_journal(o)
                            else wallet_op_transfer(o.id, o.u, o.c, o.cur, o.a) end;
    when 4 then return case when p_replay then wallet_replay_accept(o)
                            else wallet_op_accept(o.id, o.u, o.c, o.cur, o.a) end;
    when 5 then return case when p_replay then wallet_replay_hold(o)
                            else wallet_op_hold(o.id, o.u, o.c, o.cur, o.a, o.e) end;
    when 6 then return case when p_replay then wallet_replay_hold(o) else wallet_op_capture(o.id, o.u, o.r, o.a) end;
    when 7 then return case when p_replay then wallet_replay_hold(o) else wallet_op_void(o.id, o.u, o.r) end;
    when 8 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_reverse(o.id, o.r, o.a, o.actor, o.reason) end;
    when 9 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_adjust(o.id, o.c, o.cur, o.a, o.actor, o.reason) end;
    when 10 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, o.cur, true, o.actor, o.reason) end;
    when 11 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, o.cur, false, o.actor, o.reason) end;
    when 12 then return case when p_replay then wallet_replay_exchange(o) else wallet_op_exchange(o.id, o.u, o.r) end;
    when 13 then return case when p_replay then wallet_replay_quote(o)
                             else wallet_op_quote(o.id, o.u, o.cur, o.cur_to, o.a, o.shift, o.e) end;
    else raise exception 'wallet_apply: unknown operation kind %', o.k;
  end case;
end
$$;

create or replace function wallet_known_outcome(p_outcome text) returns boolean
language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold',
                       'wallet_frozen', 'reversal_exceeds_original', 'not_reversible', 'quote_used', 'quote_expired',
                       'rate_unavailable', 'amount_too_small')
$$;

-- As before, with users: the acting users are seen (opened) on first use, every user
-- of the batch is locked in user-id order, then the position rows of its exchanges.
create or replace function wallet_apply(p_ops jsonb, p_retry boolean default false)
returns table (ord integer, outcome text, result jsonb, replayed boolean, changes bigint[])
language plpgsql as $$
declare
  v_ops wallet_op[] := array(select x from jsonb_populate_recordset(null::wallet_op, p_ops) x);
  v_actors bigint[] := array(select distinct x.u from unnest(v_ops) x where x.u is not null order by 1);
  v_lock record;
  v_rows journal[];
  v_flushed integer := 0;
  v_accepted integer := 0;
  o wallet_op;
  s wallet_step;
  v_hash text;
  v_op bigint;
begin
  v_lock := wallet_lock(wallet_batch_users(v_ops));
  if not v_actors <@ v_lock.locked then
    insert into users (user_id) select u from unnest(v_actors) u order by 1 on conflict do nothing;
  end if;
  if exists (select 1 from unnest(v_ops) x where x.k = 12) then
    perform wallet_lock_positions(array(select x.r from unnest(v_ops) x where x.k = 12));
  end if;
  v_rows := v_lock.rows;

  ord := 0;
  foreach o in array v_ops loop
    ord := ord + 1;
    replayed := false;
    changes := null;
    if o.key is not null then
      -- a concurrent request with the same key waits here until the first commits
      -- scoped per user; the operator (no acting user) has scope 0
      insert into idempotency_keys (user_id, key, request_hash, op_id)
      values (coalesce(o.u, 0), o.key, o.h, o.id)
      on conflict do nothing;
      if not found then
        select k.request_hash, k.outcome, k.result, k.op_id into v_hash, outcome, result, v_op
          from idempotency_keys k where k.user_id = coalesce(o.u, 0) and k.key = o.key;
        if v_hash <> o.h then
          outcome := 'idempotency_key_reused';
          result := null;
        else
          replayed := v_op is distinct from o.id;
        end if;
        return next;
        continue;
      end if;
    elsif p_retry then
      s := wallet_dispatch(o, true);
      if s.outcome is not null then
        outcome := s.outcome;
        result := s.result;
        return next;
        continue;
      end if;
    end if;

    if wallet_reads_journal(o.k) and cardinality(v_rows) > v_flushed then
      perform wallet_flush(v_rows[v_flushed + 1 :]);
      v_flushed := cardinality(v_rows);
    end if;
    s := wallet_dispatch(o, false);
    if not wallet_known_outcome(s.outcome) then
      raise exception 'wallet_apply: operation kind % returned unknown outcome %', o.k, s.outcome;
    end if;
    outcome := s.outcome;
    result := s.result;
    if s.rows is not null then
      v_rows := v_rows || s.rows;
      changes := array(select x from unnest(s.rows) r, lateral (values (r.user_id), (r.seq)) v(x));
    end if;
    if s.outcome = 'accepted' then v_accepted := v_accepted + 1; end if;
    if o.key is not null then
      update idempotency_keys k set outcome = s.outcome, result = s.result
       where k.user_id = coalesce(o.u, 0) and k.key = o.key;
    end if;
    return next;
  end loop;
  if cardinality(v_rows) > v_flushed then perform wallet_flush(v_rows[v_flushed + 1 :]); end if;
  perform wallet_log_changes(v_rows, v_accepted);
end
$$;
