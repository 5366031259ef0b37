-- 010: limits and credit lines.
--
-- Tiers are named sets of limits per currency (tier_limits: one row per tier and
-- currency; a null column is no limit). Every user is in a tier (users.tier, 'default'
-- until the operator assigns another).
--
-- Limits are judged where the balance is judged: in wallet_record's one UPDATE of the
-- wallet row, under the user's lock, in the money function's transaction, so a check
-- and the spend cannot be separated and parallel debits (on any number of instances)
-- never pass a limit together. The usage of the current UTC day and month is kept on
-- the wallet row (day_on/day_amount/day_count, month_on/month_amount): the check is
-- O(1), a read of the row the UPDATE writes anyway. A counter whose date is not today's
-- (this month's) counts as 0; the next counted debit restarts it. Dates come from the
-- database clock (now(): the transaction's start), never from the service.
--
-- Counted debits: withdrawals (journal event 2), transfers out (4, v2 when applied),
-- holds when placed (6), the from side of exchanges (14); never an operator's reversal
-- or adjustment (p_operator). A hold's end gives back: a void (8) or expiry (9) its
-- amount and its count, a capture (7) what it did not capture; to the day and the
-- month the hold was placed in, when the wallet's counter is still that day (month).
-- A hold placed yesterday and voided today gives nothing back to today: today never
-- counted it (docs/decisions.md).
--
-- Credit line: wallets.credit_limit; available = balance + credit_limit - held; a
-- debit needs available >= 0 after it, so the balance may go down to -credit_limit,
-- never below it at the moment of a debit. Lowering the line below its use is allowed
-- (available may be negative then, and every debit is refused until repaid), so the
-- balance and held checks no longer compare with 0 and the balance: what stays true is
-- that every debit's journal row has available_after >= 0 (wallet verify checks it).

create table tiers (
  name       text primary key check (name ~ '^[a-z0-9][a-z0-9_.-]{0,39}$'),
  updated_at timestamptz not null default now()
);
insert into tiers (name) values ('default');

create table tier_limits (
  tier                 text not null references tiers (name),
  currency             text not null check (currency ~ '^[A-Z]{3}$'),
  max_debit            bigint check (max_debit between 0 and 9007199254740991),
  daily_debit_amount   bigint check (daily_debit_amount between 0 and 9007199254740991),
  daily_debit_count    bigint check (daily_debit_count between 0 and 9007199254740991),
  monthly_debit_amount bigint check (monthly_debit_amount between 0 and 9007199254740991),
  max_balance          bigint check (max_balance between 0 and 9007199254740991),
  primary key (tier, currency)
);

-- no foreign key to tiers: a tier is never deleted, and the users row is written by
-- every money operation (its seq); wallet_assign_tier checks the name
alter table users add column tier text not null default 'default';

alter table wallets add column credit_limit bigint not null default 0
  constraint wallets_credit_limit_check check (credit_limit between 0 and 9007199254740991);
alter table wallets add column day_on date;
alter table wallets add column day_amount bigint not null default 0;
alter table wallets add column day_count bigint not null default 0;
alter table wallets add column month_on date;
alter table wallets add column month_amount bigint not null default 0;

alter table wallets drop constraint wallets_balance_check;
alter table wallets add constraint wallets_balance_check
  check (balance >= -9007199254740991 and balance <= 9007199254740991);
alter table wallets drop constraint wallets_held_check;
alter table wallets add constraint wallets_held_check check (held >= 0);
alter table journal drop constraint journal_balance_after_check;
alter table journal add constraint journal_balance_after_check check (balance_after >= -9007199254740991);

alter table audit_log drop constraint audit_log_action_check;
alter table audit_log add constraint audit_log_action_check
  check (action in ('freeze', 'unfreeze', 'reversal', 'adjustment', 'transfer_retry', 'fx_rate',
                    'tier_definition', 'tier', 'credit_limit', 'webhook', 'monitor'));

-- The day and month a timestamp falls in, in UTC.
create function wallet_utc_day(p_at timestamptz) returns date language sql immutable as $$
  select (p_at at time zone 'UTC')::date
$$;

create function wallet_utc_month(p_at timestamptz) returns date language sql immutable as $$
  select date_trunc('month', p_at at time zone 'UTC')::date
$$;

-- A limit_exceeded refusal with its details (the HTTP error's details).
create function wallet_limit_refusal(p_limit text, p_remaining bigint, p_resets date) returns wallet_step
language sql immutable as $$
  select ('limit_exceeded',
          jsonb_build_object('limit', p_limit, 'remaining', greatest(p_remaining, 0),
                             'resets_at', wallet_iso(p_resets::timestamp at time zone 'UTC')),
          null)::wallet_step
$$;

-- The limits of a user's tier in a currency (every field null: none).
create function wallet_tier_limits(p_user bigint, p_currency text) returns tier_limits
language sql stable as $$
  select l.* from users u join tier_limits l on l.tier = u.tier and l.currency = p_currency where u.user_id = p_user
$$;

-- Why a debit of p_amount would be refused, judged in the contract's order: the wallet,
-- the freeze, the limits (max_debit, daily amount, daily count, monthly amount), then
-- the funds (available = balance + credit_limit - held). p_amount <= 0 (a capture's
-- change to the available balance) and an operator's debits are not judged by limits.
-- It must refuse whatever wallet_record refused.
create or replace function wallet_debit_refused(p_user bigint, p_currency text, p_amount bigint,
                                                p_operator boolean default false) returns wallet_step
language plpgsql stable as $$
declare
  u users;
  w wallets;
  l tier_limits;
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
  v_used bigint;
begin
  select * into u from users where user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if u.frozen and not p_operator then return wallet_refuse('wallet_frozen'); end if;
  select * into w from wallets where user_id = p_user and currency = p_currency;
  if not p_operator and p_amount > 0 then
    l := wallet_tier_limits(p_user, p_currency);
    if p_amount > l.max_debit then return wallet_limit_refusal('max_debit', l.max_debit, null); end if;
    v_used := case when w.day_on = v_today then w.day_amount else 0 end;
    if v_used + p_amount > l.daily_debit_amount then
      return wallet_limit_refusal('daily_debit_amount', l.daily_debit_amount - v_used, v_today + 1);
    end if;
    v_used := case when w.day_on = v_today then w.day_count else 0 end;
    if v_used + 1 > l.daily_debit_count then
      return wallet_limit_refusal('daily_debit_count', l.daily_debit_count - v_used, v_today + 1);
    end if;
    v_used := case when w.month_on = v_month then w.month_amount else 0 end;
    if v_used + p_amount > l.monthly_debit_amount then
      return wallet_limit_refusal('monthly_debit_amount', l.monthly_debit_amount - v_used,
                                  (v_month + interval '1 month')::date);
    end if;
  end if;
  if coalesce(w.balance + w.credit_limit - w.held, 0) < p_amount then return wallet_refuse('insufficient_funds'); end if;
  return wallet_refuse(null);
end
$$;

-- Why a user's credit of p_amount would be refused (null outcome: it would not): no such
-- user, past 2^53-1, or past the tier's max_balance. Judged before the credit, under the
-- lock, by the operations that credit a user (deposits, transfers in, captures to a
-- destination, the to side of exchanges); never for an operator's reversal or
-- adjustment. One statement: the user, the wallet and the tier's limit together.
create function wallet_credit_refused(p_user bigint, p_currency text, p_amount bigint) returns wallet_step
language plpgsql stable as $$
declare
  v_balance bigint;
  v_max bigint;
begin
  select coalesce(w.balance, 0), l.max_balance into v_balance, v_max
    from users u
    left join wallets w on w.user_id = u.user_id and w.currency = p_currency
    left join tier_limits l on l.tier = u.tier and l.currency = p_currency
   where u.user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  if v_balance + p_amount > v_max then return wallet_limit_refusal('max_balance', v_max - v_balance, null); end if;
  return wallet_refuse(null);
end
$$;

-- wallet_record, with the credit line in the funds check and available_after, and the
-- usage counters judged and moved by the same UPDATE (see the top of this file).
create or replace function wallet_record(p_user bigint, p_currency text, p_event smallint, p_kind smallint,
                                         p_direction smallint, p_amount bigint, p_id bigint,
                                         p_counterparty bigint default null, p_transfer bigint default null,
                                         p_hold bigint default null, p_reverses bigint default null,
                                         p_reason text default null, p_held bigint default 0,
                                         p_expires timestamptz default null, p_operator boolean default false)
returns journal language plpgsql as $$
declare
  j journal;
  v_debit boolean := p_direction < 0 or p_held > 0;
  v_need bigint := (case when p_direction < 0 then p_amount else 0 end) + p_held;
  -- a user's debit that counts against the limits: withdrawal, transfer out, hold, exchange out
  v_counts boolean := not p_operator and p_event in (2, 4, 6, 14);
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
  -- a hold's end: what goes back to the day and month it was placed in
  v_placed timestamptz;
  v_back bigint := 0;
  v_back_n bigint := 0;
begin
  if p_event in (7, 8, 9) then
    select h.created_at into v_placed from holds h where h.id = p_hold;
    v_back := case when p_event = 7 then -p_held - p_amount else p_amount end;
    v_back_n := case when p_event = 7 then 0 else 1 end;
  end if;
  for attempt in 1 .. 2 loop
    if v_counts then
      -- a counted debit: funds, the freeze and the tier's limits judged, the counters moved,
      -- by one statement (the user's row and the tier's limits in this currency joined)
      update wallets w set balance = w.balance + p_direction * p_amount, held = w.held + p_held,
                           hold_expiry = case when p_expires is null then w.hold_expiry
                                              else least(coalesce(w.hold_expiry, p_expires), p_expires) end,
                           version = w.version + 1, updated_at = now(),
                           day_on = v_today,
                           day_amount = (case when w.day_on = v_today then w.day_amount else 0 end) + p_amount,
                           day_count = (case when w.day_on = v_today then w.day_count else 0 end) + 1,
                           month_on = v_month,
                           month_amount = (case when w.month_on = v_month then w.month_amount else 0 end) + p_amount
        from users u left join tier_limits l on l.tier = u.tier and l.currency = p_currency
       where w.user_id = p_user and w.currency = p_currency and u.user_id = p_user
         and w.balance + w.credit_limit - w.held >= v_need and not u.frozen
         and coalesce(p_amount <= l.max_debit, true)
         and coalesce((case when w.day_on = v_today then w.day_amount else 0 end) + p_amount
                      <= l.daily_debit_amount, true)
         and coalesce((case when w.day_on = v_today then w.day_count else 0 end) + 1 <= l.daily_debit_count, true)
         and coalesce((case when w.month_on = v_month then w.month_amount else 0 end) + p_amount
                      <= l.monthly_debit_amount, true)
      returning w.balance, w.balance + w.credit_limit - w.held into j.balance_after, j.available_after;
    elsif p_event in (7, 8, 9) then
      -- a hold's end: as before, and what the hold counted goes back to its day and month
      update wallets w set balance = w.balance + p_direction * p_amount, held = w.held + p_held,
                           version = w.version + 1, updated_at = now(),
                           day_amount = case when w.day_on = wallet_utc_day(v_placed)
                                             then greatest(w.day_amount - v_back, 0) else w.day_amount end,
                           day_count = case when w.day_on = wallet_utc_day(v_placed)
                                            then greatest(w.day_count - v_back_n, 0) else w.day_count end,
                           month_amount = case when w.month_on = wallet_utc_month(v_placed)
                                               then greatest(w.month_amount - v_back, 0) else w.month_amount end
       where w.user_id = p_user and w.currency = p_currency
         and (not v_debit or w.balance + w.credit_limit - w.held >= v_need
                             and (p_operator or not exists (select 1 from users u where u.user_id = p_user and u.frozen)))
      returning w.balance, w.balance + w.credit_limit - w.held into j.balance_after, j.available_after;
    else
      -- credits, operators' debits, the rest: wallet_record as before, the credit line in the funds
      update wallets w set balance = w.balance + p_direction * p_amount, held = w.held + p_held,
                           hold_expiry = case when p_expires is null then w.hold_expiry
                                              else least(coalesce(w.hold_expiry, p_expires), p_expires) end,
                           version = w.version + 1, updated_at = now()
       where w.user_id = p_user and w.currency = p_currency
         and (not v_debit or w.balance + w.credit_limit - w.held >= v_need
                             and (p_operator or not exists (select 1 from users u where u.user_id = p_user and u.frozen)))
         and (p_direction <= 0 or w.balance <= 9007199254740991 - p_amount)
      returning w.balance, w.balance + w.credit_limit - w.held into j.balance_after, j.available_after;
    end if;
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

create or replace function wallet_known_outcome(p_outcome text) returns boolean language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold',
                       'wallet_frozen', 'reversal_exceeds_original', 'not_reversible', 'quote_used', 'quote_expired',
                       'rate_unavailable', 'amount_too_small', 'version_mismatch', 'batch_refused',
                       'limit_exceeded')
$$;

-- The credits: judged by wallet_credit_refused before anything moves (max_balance).
create or replace function wallet_op_deposit(p_id bigint, p_user bigint, p_currency text, p_amount bigint)
returns wallet_step language plpgsql as $$
declare
  s wallet_step := wallet_credit_refused(p_user, p_currency, p_amount);
  j journal;
begin
  if s.outcome is not null then return s; end if;
  j := wallet_record(p_user, p_currency, 1::smallint, 1::smallint, 1::smallint, p_amount, p_id);
  if j.seq is null then return wallet_refuse('balance_limit_exceeded'); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text, 'currency', p_currency),
          array[j])::wallet_step;
end
$$;

create or replace function wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_currency text,
                                              p_amount bigint) returns wallet_step language plpgsql as $$
declare
  a journal;
  v_balance bigint;
  v_max bigint;
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  -- the receiver, its balance and its tier's max_balance (wallet_credit_refused's query,
  -- inline: the common case pays no function call)
  select coalesce(w.balance, 0), l.max_balance into v_balance, v_max
    from users u
    left join wallets w on w.user_id = u.user_id and w.currency = p_currency
    left join tier_limits l on l.tier = u.tier and l.currency = p_currency
   where u.user_id = p_to;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_balance > 9007199254740991 - p_amount or v_balance + p_amount > v_max then
    return wallet_credit_refused(p_to, p_currency, p_amount);
  end if;
  a := wallet_record(p_from, p_currency, 4::smallint, 3::smallint, -1::smallint, p_amount, p_id, p_to, p_id);
  if a.seq is null then return wallet_debit_refused(p_from, p_currency, p_amount); end if;
  return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', a.balance_after,
                                   'currency', p_currency),
          array[a, wallet_record(p_to, p_currency, 3::smallint, 3::smallint, 1::smallint, p_amount, p_id, p_from,
                                 p_id)])::wallet_step;
end
$$;

create or replace function wallet_op_capture(p_id bigint, p_actor bigint, p_hold bigint, p_amount bigint)
returns wallet_step language plpgsql as $$
declare
  h holds;
  v_amount bigint;
  v_dest bigint;
  a journal;
  v_rows journal[];
  v_refusal text;
  s wallet_step;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  v_amount := coalesce(p_amount, h.amount);
  if v_amount > h.amount then return wallet_refuse('amount_exceeds_hold'); end if;
  v_dest := h.destination_user_id;
  if v_dest is not null then
    s := wallet_credit_refused(v_dest, h.currency, v_amount);
    if s.outcome is not null then return s; end if;
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

create or replace function wallet_op_exchange(p_id bigint, p_user bigint, p_quote bigint)
returns wallet_step language plpgsql as $$
declare
  q fx_quotes;
  a journal;
  b journal;
  s wallet_step;
  v_shard smallint := (p_user % 16)::smallint;
begin
  select * into q from fx_quotes where id = p_quote for update;
  if not found or q.user_id <> p_user then return wallet_refuse('not_found'); end if;
  if q.exchange_id is not null then return wallet_refuse('quote_used'); end if;
  if q.expires_at <= now() then return wallet_refuse('quote_expired'); end if;
  s := wallet_credit_refused(p_user, q.to_currency, q.converted_amount);
  if s.outcome is not null then return s; end if;
  a := wallet_record(p_user, q.from_currency, 14::smallint, 6::smallint, -1::smallint, q.amount, p_id);
  if a.seq is null then return wallet_debit_refused(p_user, q.from_currency, q.amount); end if;
  b := wallet_record(p_user, q.to_currency, 15::smallint, 6::smallint, 1::smallint, q.converted_amount, p_id);
  update fx_positions set position = position + q.amount where currency = q.from_currency and shard = v_shard;
  update fx_positions set position = position - q.converted_amount where currency = q.to_currency and shard = v_shard;
  update fx_quotes set exchange_id = p_id where id = q.id;
  return ('ok', wallet_exchange_json(p_id, q, a.balance_after, b.balance_after), array[a, b])::wallet_step;
end
$$;

-- The inspect body, with the credit line in available_balance, and the tier and credit_limit.
create or replace function wallet_inspect_json(p_user bigint, p_currency text) returns jsonb language sql stable as $$
  select jsonb_build_object(
    'user_id', u.user_id,
    'currency', p_currency,
    'balance', coalesce(w.balance, 0),
    'available_balance', coalesce(w.balance + w.credit_limit - w.held, 0)
                         + coalesce((select sum(h.amount) from holds h
                                      where h.user_id = u.user_id and h.currency = p_currency and h.status = 'held'
                                        and h.expires_at <= now()), 0),
    'credit_limit', coalesce(w.credit_limit, 0),
    'tier', u.tier,
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

-- A tier's limits as the API shows them: {"<currency>": {"max_debit": ..., ...}} (absent: none).
create function wallet_tier_json(p_tier text) returns jsonb language sql stable as $$
  select coalesce(jsonb_object_agg(l.currency, jsonb_strip_nulls(to_jsonb(l) - 'tier' - 'currency')
                                   order by l.currency), '{}')
    from tier_limits l where l.tier = p_tier
$$;

-- PUT /admin/v1/tiers/{name}: replaces the tier's whole set of limits (audited,
-- tier_definition). p_id is the audit entry's id, the write's identity: sent again after
-- a lost connection, the same limits are set and the entry is not written twice.
create function wallet_define_tier(p_id bigint, p_name text, p_limits jsonb, p_actor text) returns jsonb
language plpgsql as $$
begin
  insert into tiers (name) values (p_name) on conflict (name) do update set updated_at = now();
  delete from tier_limits where tier = p_name;
  insert into tier_limits (tier, currency, max_debit, daily_debit_amount, daily_debit_count, monthly_debit_amount,
                           max_balance)
  select p_name, c.key, (c.value ->> 'max_debit')::bigint, (c.value ->> 'daily_debit_amount')::bigint,
         (c.value ->> 'daily_debit_count')::bigint, (c.value ->> 'monthly_debit_amount')::bigint,
         (c.value ->> 'max_balance')::bigint
    from jsonb_each(p_limits) c;
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'tier_definition', 'tier:' || p_name, null, jsonb_build_object('limits', wallet_tier_json(p_name)))
  on conflict (id) do nothing;
  return jsonb_build_object('name', p_name, 'limits', wallet_tier_json(p_name));
end
$$;

-- PUT /admin/v1/wallets/{user_id}/tier (audited, tier). Refusals as outcomes:
-- wallet_not_found, not_found (no such tier). Assigning the tier a user is in changes nothing.
create function wallet_assign_tier(p_id bigint, p_user bigint, p_tier text, p_currency text, p_actor text,
                                   p_reason text) returns wallet_step language plpgsql as $$
declare
  v_previous text;
begin
  select tier into v_previous from users where user_id = p_user for update;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if not exists (select 1 from tiers where name = p_tier) then return wallet_refuse('not_found'); end if;
  if v_previous <> p_tier then
    update users set tier = p_tier where user_id = p_user;
    insert into audit_log (id, actor, action, target, reason, details)
    values (p_id, p_actor, 'tier', 'wallet:' || p_user, p_reason,
            jsonb_build_object('tier', p_tier, 'previous', v_previous))
    on conflict (id) do nothing;
  end if;
  return ('ok', wallet_inspect_json(p_user, p_currency), null)::wallet_step;
end
$$;

-- PUT /admin/v1/wallets/{user_id}/credit-limit (audited, credit_limit). Under the
-- user's lock like every money operation; the wallet in that currency opens if new.
-- The change is an event (credit_limit, journal event 18: amount = the new line) so
-- that the user's sequence, the caches and the events feed see the new available
-- balance. Setting the line a wallet has changes nothing. Retried after a lost
-- connection, the same line is set and nothing is written twice.
create function wallet_set_credit_limit(p_id bigint, p_user bigint, p_currency text, p_limit bigint, p_actor text,
                                        p_reason text) returns wallet_step language plpgsql as $$
declare
  v_rows journal[];
  v_previous bigint;
  j journal;
begin
  v_rows := (wallet_lock(array[p_user])).rows;
  if not exists (select 1 from users where user_id = p_user) then return wallet_refuse('wallet_not_found'); end if;
  insert into wallets (user_id, currency) values (p_user, p_currency) on conflict do nothing;
  select credit_limit into v_previous from wallets where user_id = p_user and currency = p_currency;
  if v_previous <> p_limit then
    update wallets set credit_limit = p_limit where user_id = p_user and currency = p_currency;
    j := wallet_record(p_user, p_currency, 18::smallint, null, 0::smallint, p_limit, p_id, p_reason => p_reason,
                       p_operator => true);
    v_rows := v_rows || j;
    insert into audit_log (id, actor, action, target, reason, details)
    values (p_id, p_actor, 'credit_limit', 'wallet:' || p_user, p_reason,
            jsonb_build_object('currency', p_currency, 'credit_limit', p_limit, 'previous', v_previous));
  end if;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
  -- the rows come back so that the service passes the new versions to its caches at once
  return ('ok', wallet_inspect_json(p_user, p_currency), v_rows)::wallet_step;
end
$$;

-- GET /api/limits/v1: the user's tier, credit line and, per limit set, its use now.
create function wallet_limits_json(p_user bigint, p_currency text) returns jsonb language plpgsql stable as $$
declare
  u users;
  w wallets;
  l tier_limits;
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
  v_day bigint;
  v_count bigint;
  v_mon bigint;
  v_out jsonb := '[]';
begin
  select * into u from users where user_id = p_user;
  if not found then return null; end if;
  select * into w from wallets where user_id = p_user and currency = p_currency;
  select * into l from tier_limits where tier = u.tier and currency = p_currency;
  v_day := case when w.day_on = v_today then w.day_amount else 0 end;
  v_count := case when w.day_on = v_today then w.day_count else 0 end;
  v_mon := case when w.month_on = v_month then w.month_amount else 0 end;
  select coalesce(jsonb_agg(jsonb_build_object('name', x.name, 'limit', x.lim, 'used', x.used,
                                               'remaining', greatest(x.lim - x.used, 0),
                                               'resets_at', wallet_iso(x.resets::timestamp at time zone 'UTC'))
                            order by x.ord), '[]')
    into v_out
    from (values (1, 'max_debit', l.max_debit, 0::bigint, null::date),
                 (2, 'daily_debit_amount', l.daily_debit_amount, v_day, v_today + 1),
                 (3, 'daily_debit_count', l.daily_debit_count, v_count, v_today + 1),
                 (4, 'monthly_debit_amount', l.monthly_debit_amount, v_mon, (v_month + interval '1 month')::date),
                 (5, 'max_balance', l.max_balance, coalesce(w.balance, 0), null::date)) x(ord, name, lim, used, resets)
   where x.lim is not null;
  return jsonb_build_object('tier', u.tier, 'currency', p_currency, 'credit_limit', coalesce(w.credit_limit, 0),
                            'limits', v_out);
end
$$;
