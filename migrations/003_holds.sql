-- 003: holds (two-phase payments) and the available balance.
--
-- A hold reserves money in the payer's wallet now; later it is captured (all or part
-- of it moves, the rest is released), voided, or it expires. The wallet keeps the sum
-- of its held amounts (held) and the earliest expiry among them (hold_expiry), both
-- under its row lock, so that a debit's check stays O(1):
--   available = balance - held
-- and every debit (withdraw, transfer, a new hold) is judged against it. Expiry is
-- judged by the database clock at each action: whenever a batch locks a wallet whose
-- hold_expiry has passed, its expired holds are released first, under that same lock
-- (wallet_lock). The background marker (wallet_expire_holds) only tidies up.

alter table wallets
  add column held bigint not null default 0,
  add column hold_expiry timestamptz,
  add constraint wallets_held_check check (held >= 0 and held <= balance);

create table holds (
  id                  bigint primary key, -- hold_id: the placing operation's id
  user_id             bigint not null references wallets (user_id), -- the payer
  destination_user_id bigint references wallets (user_id),
  amount              bigint not null check (amount > 0),
  status              text not null default 'held' check (status in ('held', 'captured', 'voided', 'expired')),
  captured_amount     bigint check (captured_amount > 0 and captured_amount <= amount),
  expires_at          timestamptz not null,
  created_at          timestamptz not null default now(),
  closed_at           timestamptz,
  closed_by           bigint, -- the capture's or the void's operation id (its write identity)
  check ((status = 'captured') = (captured_amount is not null))
);
-- a payer's holds, newest first
create index holds_user_idx on holds (user_id, id desc);
-- the holds still reserving money: a wallet's earliest expiry, and the marker's work
create index holds_active_idx on holds (user_id, expires_at) where status = 'held';

-- An operation may now name a hold (r) and an expiry in seconds (e).
alter type wallet_op add attribute r bigint, add attribute e integer;

-- ISO 8601 in UTC with milliseconds, as the API writes every instant.
create function wallet_iso(p_at timestamptz) returns text
language sql immutable as $$ select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- A hold as the API shows it: past expires_at it is expired, marked yet or not.
create function wallet_hold_json(h holds) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'hold_id', h.id::text,
    'status', case when h.status = 'held' and h.expires_at <= now() then 'expired' else h.status end,
    'amount', h.amount,
    'captured_amount', h.captured_amount,
    'user_id', h.user_id,
    'destination_user_id', h.destination_user_id,
    'expires_at', wallet_iso(h.expires_at),
    'created_at', wallet_iso(h.created_at))
$$;

-- Debits are judged against the available balance. need: how much less is available
-- after the change (a debit's amount, plus what it newly holds, minus what it releases).
create or replace function wallet_debit_refusal(w wallets, p_amount bigint) returns text
language sql stable as $$
  select case when w.balance - w.held < p_amount then 'insufficient_funds' end
$$;

-- wallet_record learns the held amount: p_held is added to it (a new hold: +amount;
-- a capture, void or expiry: -amount), and the row's available_after follows. A new
-- hold also brings the wallet's earliest expiry forward (p_expires). A closed hold
-- leaves hold_expiry as it was: an expiry that turns out to be early costs one look at
-- the wallet's active holds when it passes (wallet_release_expired recomputes it).
drop function wallet_record(bigint, smallint, smallint, smallint, bigint, bigint, bigint, bigint, bigint, bigint, text);
create function wallet_record(p_user bigint, p_event smallint, p_kind smallint, p_direction smallint,
                              p_amount bigint, p_id bigint, p_counterparty bigint default null,
                              p_transfer bigint default null, p_hold bigint default null,
                              p_reverses bigint default null, p_reason text default null,
                              p_held bigint default 0, p_expires timestamptz default null)
returns journal
language plpgsql as $$
declare
  j journal;
  v_need bigint := (case when p_direction < 0 then p_amount else 0 end) + p_held;
begin
  update wallets w set balance = w.balance + p_direction * p_amount, held = w.held + p_held,
                       hold_expiry = case when p_expires is null then w.hold_expiry
                                          else least(coalesce(w.hold_expiry, p_expires), p_expires) end,
                       version = w.version + 1, updated_at = now()
   where w.user_id = p_user
     and (p_direction >= 0 and p_held <= 0 or wallet_debit_refusal(w, v_need) is null)
     and (p_direction <= 0 or w.balance <= 9007199254740991 - p_amount)
  returning w.version, w.balance, w.balance - w.held into j.seq, j.balance_after, j.available_after;
  if not found then return null; end if;
  j.user_id := p_user; j.id := p_id; j.event := p_event; j.kind := p_kind; j.direction := p_direction;
  j.amount := p_amount; j.counterparty_user_id := p_counterparty; j.transfer_id := p_transfer;
  j.hold_id := p_hold; j.reverses := p_reverses; j.reason := p_reason; j.created_at := now();
  return j;
end
$$;

-- Releases a locked wallet's expired holds: each becomes 'expired', its amount is no
-- longer held, and the payer's journal records hold_expired. Returns those rows.
create function wallet_release_expired(p_user bigint) returns journal[]
language plpgsql as $$
declare
  h record;
  v_rows journal[] := '{}';
begin
  for h in update holds set status = 'expired', closed_at = now()
            where user_id = p_user and status = 'held' and expires_at <= now()
        returning id, amount, destination_user_id loop
    v_rows := v_rows || wallet_record(p_user, 9::smallint, null, 0::smallint, h.amount, wallet_next_id(),
                                      h.destination_user_id, null, h.id, p_held => -h.amount);
  end loop;
  update wallets set hold_expiry = (select min(expires_at) from holds where user_id = p_user and status = 'held')
   where user_id = p_user;
  return v_rows;
end
$$;

-- Locking a wallet releases its expired holds first, under the same lock: whatever
-- the batch does next sees the available balance as of now.
create or replace function wallet_lock(p_users bigint[], out rows journal[], out locked bigint[])
language plpgsql as $$
declare
  w record;
begin
  rows := '{}';
  locked := '{}';
  for w in select user_id, hold_expiry from wallets where user_id = any (p_users) order by user_id for update loop
    locked := locked || w.user_id;
    if w.hold_expiry <= now() then rows := rows || wallet_release_expired(w.user_id); end if;
  end loop;
end
$$;

-- Places a hold: the payer's available balance must cover it; the destination, if
-- any, must exist. Its id is the operation's id.
create function wallet_op_hold(p_id bigint, p_user bigint, p_dest bigint, p_amount bigint, p_expires_s integer)
returns wallet_step
language plpgsql as $$
declare
  j journal;
  h holds;
begin
  if p_dest = p_user then return wallet_refuse('same_wallet'); end if;
  if p_dest is not null and not exists (select 1 from wallets where user_id = p_dest) then
    return wallet_refuse('wallet_not_found');
  end if;
  j := wallet_record(p_user, 6::smallint, null, 0::smallint, p_amount, p_id, p_dest, null, p_id, p_held => p_amount,
                     p_expires => now() + make_interval(secs => p_expires_s));
  if j.seq is null then return wallet_debit_refused(p_user, p_amount); end if;
  insert into holds (id, user_id, destination_user_id, amount, expires_at)
  values (p_id, p_user, p_dest, p_amount, now() + make_interval(secs => p_expires_s))
  returning * into h;
  return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after, 'available_balance', j.available_after),
          array[j])::wallet_step;
end
$$;

-- Who may act on a hold: the destination when it has one, else the payer; a null
-- actor is the operator (the direct-mode CLI), who may act on any hold. The payer and
-- the destination may read it (forbidden); anyone else may not know it exists (not_found).
create function wallet_hold_refusal(h holds, p_actor bigint) returns text
language sql stable as $$
  select case
    when h.id is null then 'not_found'
    when p_actor <> h.user_id and p_actor is distinct from h.destination_user_id then 'not_found'
    when p_actor <> coalesce(h.destination_user_id, h.user_id) then 'forbidden'
    when h.status <> 'held' or h.expires_at <= now() then 'hold_not_active'
  end
$$;

-- Captures a hold, whole (p_amount null) or in part: the amount moves to the
-- destination (a transfer: rows of kind transfer on both wallets, with hold_id and the
-- capture's id as transfer_id) or, without one, out of the system (a withdraw row);
-- the rest is released. Its wallets are already locked (wallet_batch_users).
create function wallet_op_capture(p_id bigint, p_actor bigint, p_hold bigint, p_amount bigint)
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
     and (select balance from wallets where user_id = v_dest) > 9007199254740991 - v_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  a := wallet_record(h.user_id, 7::smallint, case when v_dest is null then 2 else 3 end::smallint, -1::smallint,
                     v_amount, p_id, v_dest, case when v_dest is not null then p_id end, h.id, p_held => -h.amount);
  if a.seq is null then return wallet_debit_refused(h.user_id, v_amount - h.amount); end if;
  v_rows := array[a];
  if v_dest is not null then
    v_rows := v_rows || wallet_record(v_dest, 3::smallint, 3::smallint, 1::smallint, v_amount, p_id, h.user_id, p_id, h.id);
  end if;
  update holds set status = 'captured', captured_amount = v_amount, closed_at = now(), closed_by = p_id
   where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, a), v_rows)::wallet_step;
end
$$;

-- Voids a hold: its amount is no longer held.
create function wallet_op_void(p_id bigint, p_actor bigint, p_hold bigint) returns wallet_step
language plpgsql as $$
declare
  h holds;
  j journal;
  v_refusal text;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  j := wallet_record(h.user_id, 8::smallint, null, 0::smallint, h.amount, p_id, h.destination_user_id, null, h.id,
                     p_held => -h.amount);
  update holds set status = 'voided', closed_at = now(), closed_by = p_id where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, j), array[j])::wallet_step;
end
$$;

-- The answer of a capture or a void: the hold, the payer's balances after it, and
-- the capture's transfer_id (with a destination) or transaction_id (without).
create function wallet_hold_result(h holds, j journal) returns jsonb
language sql stable as $$
  select wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after, 'available_balance', j.available_after)
         || case when h.status <> 'captured' then '{}'::jsonb
                 when h.destination_user_id is null then jsonb_build_object('transaction_id', h.closed_by::text)
                 else jsonb_build_object('transfer_id', h.closed_by::text) end
$$;

create or replace function wallet_known_outcome(p_outcome text) returns boolean
language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold')
$$;

-- A capture or void locks the hold's payer and destination too.
create or replace function wallet_batch_users(p_ops wallet_op[]) returns bigint[]
language sql stable as $$
  select array(select distinct q.id from (
                 select unnest(array[x.u, x.c]) from unnest(p_ops) x
                 union all
                 select unnest(array[h.user_id, h.destination_user_id]) from holds h
                  where h.id = any (array(select x.r from unnest(p_ops) x where x.r is not null))) q(id)
                where q.id is not null)
$$;

-- Replays of the hold operations: a placed hold is found by its id; a capture or void
-- by the hold it closed (closed_by is its identity).
create function wallet_replay_hold(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  j journal;
  h holds;
begin
  select * into h from holds where id = case when o.k = 5 then o.id else o.r end;
  if not found or (o.k <> 5 and h.closed_by is distinct from o.id) then return null; end if;
  select * into j from journal where id = o.id and user_id = h.user_id;
  if o.k = 5 then
    return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after,
                                                            'available_balance', j.available_after), null)::wallet_step;
  end if;
  return ('ok', wallet_hold_result(h, j), null)::wallet_step;
end
$$;

-- kind: 5 place a hold (u the payer, c the destination or null, a, e seconds),
-- 6 capture (u the actor or null for the operator, r the hold, a or null for all),
-- 7 void (u the actor or null, r the hold).
create or replace function wallet_dispatch(o wallet_op, p_replay boolean) returns wallet_step
language plpgsql as $$
begin
  case o.k
    when 1 then return case when p_replay then wallet_replay_journal(o) else wallet_op_deposit(o.id, o.u, o.a) end;
    when 2 then return case when p_replay then wallet_replay_journal(o) else wallet_op_withdraw(o.id, o.u, o.a) end;
    when 3 then return case when p_replay then wallet_replay_journal(o) else wallet_op_transfer(o.id, o.u, o.c, o.a) end;
    when 4 then return case when p_replay then wallet_replay_accept(o) else wallet_op_accept(o.id, o.u, o.c, o.a) end;
    when 5 then return case when p_replay then wallet_replay_hold(o) else wallet_op_hold(o.id, o.u, o.c, o.a, o.e) end;
    when 6 then return case when p_replay then wallet_replay_hold(o) else wallet_op_capture(o.id, o.u, o.r, o.a) end;
    when 7 then return case when p_replay then wallet_replay_hold(o) else wallet_op_void(o.id, o.u, o.r) end;
    else raise exception 'wallet_apply: unknown operation kind %', o.k;
  end case;
end
$$;

-- The background marker: releases expired holds of up to p_limit wallets, skipping
-- wallets another transaction holds (it releases them itself when it locks them).
-- Returns how many holds it marked.
create function wallet_expire_holds(p_limit integer) returns integer
language plpgsql as $$
declare
  v_users bigint[];
  v_user bigint;
  v_rows journal[] := '{}';
begin
  v_users := array(select distinct h.user_id from holds h where h.status = 'held' and h.expires_at <= now()
                    limit p_limit);
  if cardinality(v_users) = 0 then return 0; end if;
  for v_user in select user_id from wallets where user_id = any (v_users) order by user_id for update skip locked loop
    v_rows := v_rows || wallet_release_expired(v_user);
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_notify(v_rows, null);
  return cardinality(v_rows);
end
$$;

-- migrate:down
do $$ begin
  raise exception '003_holds cannot be undone in place: restore a backup taken before it';
end $$;
