-- 004: operator actions. Freezes, reversals and adjustments, each through
-- wallet_apply like every other change of a wallet (same locks, same identity, same
-- journal), and an audit log written in the same transaction as each action, which
-- the database itself keeps from being changed.

alter table wallets
  add column frozen boolean not null default false,
  add column frozen_reason text;

-- A freeze records an event that moves no money and carries no amount.
alter table journal drop constraint journal_amount_check,
  add constraint journal_amount_check check (amount > 0 or (kind is null and amount = 0));

-- A statement and a past balance are one range read of a wallet's rows by time. Each
-- row's created_at is the clock at the moment it is written, under the wallet's lock,
-- so a wallet's rows are in created_at order as they are in seq order.
create index journal_time_idx on journal (user_id, created_at);
-- the reversals of an original (only reversal rows have reverses)
create index journal_reverses_idx on journal (reverses) where reverses is not null;

create table audit_log (
  id      bigint primary key, -- the action's operation id
  at      timestamptz not null default now(),
  actor   text not null check (length(actor) between 1 and 200),
  action  text not null check (action in ('freeze', 'unfreeze', 'reversal', 'adjustment', 'transfer_retry')),
  target  text not null, -- 'wallet:<user_id>', 'transaction:<id>' or 'transfer:<id>'
  reason  text,
  details jsonb not null default '{}'
);

-- Append-only, enforced by the database: any UPDATE, DELETE or TRUNCATE raises.
create function wallet_audit_append_only() returns trigger
language plpgsql as $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op using errcode = 'insufficient_privilege';
end
$$;
create trigger audit_log_append_only before update or delete on audit_log
  for each row execute function wallet_audit_append_only();
create trigger audit_log_no_truncate before truncate on audit_log
  for each statement execute function wallet_audit_append_only();

-- Operator operations carry who did it and why.
alter type wallet_op add attribute actor text, add attribute reason text;

-- A frozen wallet refuses every debit a user asks for; the operator's own reversals
-- and adjustments are not blocked (p_operator).
drop function wallet_debit_refused(bigint, bigint);
create or replace function wallet_debit_refusal(w wallets, p_amount bigint) returns text
language sql stable as $$
  select case when w.frozen then 'wallet_frozen'
              when w.balance - w.held < p_amount then 'insufficient_funds' end
$$;
create function wallet_operator_refusal(w wallets, p_amount bigint) returns text
language sql stable as $$
  select case when w.balance - w.held < p_amount then 'insufficient_funds' end
$$;
create function wallet_debit_refused(p_user bigint, p_amount bigint, p_operator boolean default false)
returns wallet_step
language sql stable as $$
  select wallet_refuse(coalesce((select case when p_operator then wallet_operator_refusal(w, p_amount)
                                             else wallet_debit_refusal(w, p_amount) end
                                   from wallets w where w.user_id = p_user),
                                'wallet_not_found'))
$$;

-- wallet_record: created_at is the clock at the write (see journal_time_idx), and an
-- operator's debit is judged without the freeze.
drop function wallet_record(bigint, smallint, smallint, smallint, bigint, bigint, bigint, bigint, bigint, bigint, text,
                            bigint, timestamptz);
create function wallet_record(p_user bigint, p_event smallint, p_kind smallint, p_direction smallint,
                              p_amount bigint, p_id bigint, p_counterparty bigint default null,
                              p_transfer bigint default null, p_hold bigint default null,
                              p_reverses bigint default null, p_reason text default null,
                              p_held bigint default 0, p_expires timestamptz default null,
                              p_operator boolean default false)
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
     and (p_direction >= 0 and p_held <= 0
          or (case when p_operator then wallet_operator_refusal(w, v_need)
                   else wallet_debit_refusal(w, v_need) end) is null)
     and (p_direction <= 0 or w.balance <= 9007199254740991 - p_amount)
  returning w.version, w.balance, w.balance - w.held into j.seq, j.balance_after, j.available_after;
  if not found then return null; end if;
  j.user_id := p_user; j.id := p_id; j.event := p_event; j.kind := p_kind; j.direction := p_direction;
  j.amount := p_amount; j.counterparty_user_id := p_counterparty; j.transfer_id := p_transfer;
  j.hold_id := p_hold; j.reverses := p_reverses; j.reason := p_reason; j.created_at := clock_timestamp();
  return j;
end
$$;

-- Transfer v2 acceptance also refuses a frozen sender (it would only fail later).
create or replace function wallet_op_accept(p_id bigint, p_from bigint, p_to bigint, p_amount bigint)
returns wallet_step
language plpgsql as $$
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  if not exists (select 1 from wallets where user_id = p_to) then return wallet_refuse('wallet_not_found'); end if;
  if (select frozen from wallets where user_id = p_from) then return wallet_refuse('wallet_frozen'); end if;
  insert into transfers (id, from_user_id, to_user_id, amount, async, status)
  values (p_id, p_from, p_to, p_amount, true, 'pending');
  -- delivered at commit: wakes the workers (LISTEN wallet_transfers)
  perform pg_notify('wallet_transfers', '');
  return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
end
$$;

-- What an operator sees of a wallet (and what freeze and unfreeze answer).
create function wallet_inspect_json(p_user bigint) returns jsonb
language sql stable as $$
  select jsonb_build_object(
    'user_id', w.user_id,
    'balance', w.balance,
    'available_balance', w.balance - w.held + coalesce((select sum(h.amount) from holds h
                                                        where h.user_id = w.user_id and h.status = 'held'
                                                          and h.expires_at <= now()), 0),
    'frozen', w.frozen,
    'frozen_reason', w.frozen_reason,
    'active_holds', (select count(*) from holds h where h.user_id = w.user_id and h.status = 'held'
                                                   and h.expires_at > now()),
    'pending_transfers', (select count(*) from transfers t where t.from_user_id = w.user_id
                                                            and t.status in ('pending', 'dead')),
    'created_at', wallet_iso(w.created_at))
  from wallets w where w.user_id = p_user
$$;

-- Freezes (p_freeze) or unfreezes a wallet. Already so: a 200 that changes nothing
-- (no event, no audit row).
create function wallet_op_freeze(p_id bigint, p_user bigint, p_freeze boolean, p_actor text, p_reason text)
returns wallet_step
language plpgsql as $$
declare
  w wallets;
  j journal;
begin
  select * into w from wallets where user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if w.frozen = p_freeze then return ('ok', wallet_inspect_json(p_user), null)::wallet_step; end if;
  update wallets set frozen = p_freeze, frozen_reason = case when p_freeze then p_reason end where user_id = p_user;
  j := wallet_record(p_user, case when p_freeze then 12 else 13 end::smallint, null, 0::smallint, 0, p_id,
                     p_reason => p_reason);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, case when p_freeze then 'freeze' else 'unfreeze' end, 'wallet:' || p_user, p_reason, '{}');
  return ('ok', wallet_inspect_json(p_user), array[j])::wallet_step;
end
$$;

-- An adjustment: a signed amount credited or debited with a reason (the debit judged
-- against available funds, not blocked by a freeze).
create function wallet_op_adjust(p_id bigint, p_user bigint, p_amount bigint, p_actor text, p_reason text)
returns wallet_step
language plpgsql as $$
declare
  j journal;
begin
  if not exists (select 1 from wallets where user_id = p_user) then return wallet_refuse('wallet_not_found'); end if;
  j := wallet_record(p_user, 11::smallint, 5::smallint, sign(p_amount)::smallint, abs(p_amount), p_id,
                     p_reason => p_reason, p_operator => true);
  if j.seq is null then
    if p_amount > 0 then return wallet_refuse('balance_limit_exceeded'); end if;
    return wallet_debit_refused(p_user, abs(p_amount), true);
  end if;
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'adjustment', 'wallet:' || p_user, p_reason, jsonb_build_object('amount', p_amount));
  return ('ok', wallet_adjustment_json(j), array[j])::wallet_step;
end
$$;

-- A reversal of a completed deposit, withdrawal or transfer (a capture counts as
-- one), whole (p_amount null: the rest not yet reversed) or in part: compensating rows
-- of kind reversal naming what they reverse. The reversals of one original never add
-- up to more than it: they are counted under the locks of its wallets, which every
-- reversal of it takes (wallet_batch_users), so concurrent ones queue.
create function wallet_op_reverse(p_id bigint, p_target bigint, p_amount bigint, p_actor text, p_reason text)
returns wallet_step
language plpgsql as $$
declare
  v_out journal; -- the original's row that took money (a withdraw, a transfer's sender)
  v_in journal;  -- the original's row that gave money (a deposit, a transfer's receiver)
  v_kind smallint;
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
  if v_kind in (4, 5) then return wallet_refuse('not_reversible'); end if;
  v_original := coalesce(v_out.amount, v_in.amount);
  select coalesce(sum(amount), 0) into v_done from journal
   where reverses = p_target and kind = 4 and direction = case when v_in.seq is not null then -1 else 1 end;
  v_amount := coalesce(p_amount, v_original - v_done);
  if v_amount <= 0 or v_done + v_amount > v_original then return wallet_refuse('reversal_exceeds_original'); end if;
  -- the money goes back: out of whoever received it, into whoever paid it (checked
  -- first, so that once the debit is made the credit cannot fail)
  if v_out.seq is not null
     and (select balance from wallets where user_id = v_out.user_id) > 9007199254740991 - v_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  v_rows := '{}';
  if v_in.seq is not null then
    a := wallet_record(v_in.user_id, 10::smallint, 4::smallint, -1::smallint, v_amount, p_id, v_out.user_id,
                       null, null, p_target, p_reason, p_operator => true);
    if a.seq is null then return wallet_debit_refused(v_in.user_id, v_amount, true); end if;
    v_rows := array[a];
  end if;
  if v_out.seq is not null then
    v_rows := v_rows || wallet_record(v_out.user_id, 10::smallint, 4::smallint, 1::smallint, v_amount, p_id,
                                      v_in.user_id, null, null, p_target, p_reason, p_operator => true);
  end if;
  v_details := jsonb_build_object(
    'amount', v_amount, 'original_amount', v_original, 'remaining', v_original - v_done - v_amount,
    'kind', case v_kind when 1 then 'deposit' when 2 then 'withdraw' else 'transfer' end,
    'from_user_id', v_in.user_id, 'to_user_id', v_out.user_id);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'reversal', case when v_kind = 3 then 'transfer:' else 'transaction:' end || p_target,
          p_reason, v_details);
  return ('ok', wallet_reversal_json(p_id, p_target, p_reason, v_details), v_rows)::wallet_step;
end
$$;

-- A reversal reads the journal (what it reverses, what was reversed before): the
-- batch's earlier rows are written before it runs.
create or replace function wallet_reads_journal(p_kind smallint) returns boolean
language sql immutable as $$ select p_kind = 8 $$;

-- A reversal's answer (also rebuilt from its audit row by a replay).
create function wallet_reversal_json(p_id bigint, p_target bigint, p_reason text, p_details jsonb) returns jsonb
language sql immutable as $$
  select jsonb_build_object('reversal_id', p_id::text, 'reverses', p_target::text, 'reason', p_reason)
         || (p_details - 'original_amount')
$$;

-- An adjustment's answer (also rebuilt by a replay).
create function wallet_adjustment_json(j journal) returns jsonb
language sql immutable as $$
  select jsonb_build_object('transaction_id', j.id::text, 'user_id', j.user_id, 'amount', j.direction * j.amount,
                            'balance', j.balance_after, 'available_balance', j.available_after, 'reason', j.reason)
$$;

create or replace function wallet_known_outcome(p_outcome text) returns boolean
language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold',
                       'wallet_frozen', 'reversal_exceeds_original', 'not_reversible')
$$;

-- A reversal locks the wallets of what it reverses.
create or replace function wallet_batch_users(p_ops wallet_op[]) returns bigint[]
language sql stable as $$
  select array(select distinct q.id from (
                 select unnest(array[x.u, x.c]) from unnest(p_ops) x
                 union all
                 select unnest(array[h.user_id, h.destination_user_id]) from holds h
                  where h.id = any (array(select x.r from unnest(p_ops) x where x.k in (6, 7)))
                 union all
                 select j.user_id from journal j
                  where j.id = any (array(select x.r from unnest(p_ops) x where x.k = 8))) q(id)
                where q.id is not null)
$$;

-- Replays of operator actions (after an unknown outcome): each one that changed
-- something has its audit row under its id. A freeze that found the wallet already
-- frozen changed nothing; applied again, it answers the same.
create function wallet_replay_operator(o wallet_op) returns wallet_step
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
    select * into j from journal where id = o.id and user_id = o.c;
    return ('ok', wallet_adjustment_json(j), null)::wallet_step;
  end if;
  return ('ok', wallet_inspect_json(o.c), null)::wallet_step;
end
$$;

-- kind: 8 reversal (r the original's id, a or null for the rest), 9 adjustment (c the
-- wallet, a signed), 10 freeze and 11 unfreeze (c the wallet); all with actor and
-- reason, and no acting user (u is null: the operator).
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
    when 8 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_reverse(o.id, o.r, o.a, o.actor, o.reason) end;
    when 9 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_adjust(o.id, o.c, o.a, o.actor, o.reason) end;
    when 10 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, true, o.actor, o.reason) end;
    when 11 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, false, o.actor, o.reason) end;
    else raise exception 'wallet_apply: unknown operation kind %', o.k;
  end case;
end
$$;

-- migrate:down
do $$ begin
  raise exception '004_operator cannot be undone in place: restore a backup taken before it';
end $$;
