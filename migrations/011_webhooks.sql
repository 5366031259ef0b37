-- 011: webhooks and balance monitors.
--
-- Webhooks are fed from the change log, like the events relay: one enqueuer at a time
-- (the webhook_state row, locked) reads it in commit order and writes a delivery row
-- for every event that matches an endpoint; senders in any process claim, per endpoint
-- and user, the oldest pending delivery with a lease (webhook_queues), so a user's
-- events go out in sequence order and each delivery is in flight in one process at a
-- time. Everything is in the database: a process that dies leaves leases that expire.
--
-- Monitors are judged by a trigger on the user's sequence (users.seq), which every
-- journal row of every path bumps (wallet_record): a user with monitors gets, in the
-- same statement, one event per crossing right after the change's own. No existing
-- function is redefined.

-- the audit log learns two actions
alter table audit_log drop constraint audit_log_action_check;
alter table audit_log add constraint audit_log_action_check
  check (action in ('freeze', 'unfreeze', 'reversal', 'adjustment', 'transfer_retry', 'fx_rate',
                    'tier_definition', 'tier', 'credit_limit', 'webhook', 'monitor'));

-- Endpoints. event_types: journal event codes, null for every type. snapshot: the
-- database's snapshot at creation; the endpoint receives the events of transactions
-- not visible in it (those committed after its creation).
create table webhook_endpoints (
  id          bigint primary key,
  url         text not null,
  event_types smallint[],
  description text,
  snapshot    pg_snapshot not null default pg_current_snapshot(),
  created_at  timestamptz not null default now()
);

-- Its secrets: the current one (retired_at null) and those replaced by a rotation, which
-- sign beside it for 24 hours after their retirement.
create table webhook_secrets (
  endpoint_id bigint not null references webhook_endpoints (id) on delete cascade,
  secret      text not null,
  created_at  timestamptz not null default clock_timestamp(),
  retired_at  timestamptz,
  primary key (endpoint_id, created_at)
);

-- One row per event and endpoint. next_attempt_at: when a pending one that failed is
-- tried again (null for one waiting behind an earlier event of its user).
create table webhook_deliveries (
  id               bigserial primary key,
  endpoint_id      bigint not null references webhook_endpoints (id) on delete cascade,
  user_id          bigint not null,
  seq              bigint not null,
  status           text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts         integer not null default 0,
  last_status_code integer,
  last_error       text,
  next_attempt_at  timestamptz,
  delivered_at     timestamptz,
  created_at       timestamptz not null default now(),
  unique (endpoint_id, user_id, seq)
);
create index webhook_deliveries_pending_idx on webhook_deliveries (endpoint_id, user_id, seq) where status = 'pending';
create index webhook_deliveries_list_idx on webhook_deliveries (endpoint_id, id);
create index webhook_deliveries_oldest_idx on webhook_deliveries (endpoint_id, id) where status = 'pending';

-- One per endpoint and user: when its oldest pending delivery may go (null: none is
-- pending), and until when a sender holds it (the lease outlives one attempt).
create table webhook_queues (
  endpoint_id     bigint not null references webhook_endpoints (id) on delete cascade,
  user_id         bigint not null,
  next_attempt_at timestamptz,
  lease_until     timestamptz,
  primary key (endpoint_id, user_id)
);
create index webhook_queues_ready_idx on webhook_queues (endpoint_id, next_attempt_at) where next_attempt_at is not null;

-- How far the enqueuer has read the change log (like relay_state), one row, from now.
create table webhook_state (
  id         integer primary key default 1 check (id = 1),
  xid        xid8 not null,
  change_id  bigint not null,
  updated_at timestamptz not null default now()
);
insert into webhook_state (xid, change_id) values (pg_snapshot_xmin(pg_current_snapshot()), 0);

-- Reads the change log after the enqueuer's position (below the horizon: every
-- transaction there has ended) and writes the deliveries of the events it names, in
-- one transaction with the new position. -1: another enqueuer holds the row.
create function wallet_webhook_enqueue(p_limit integer) returns integer
language plpgsql as $$
declare
  v_xid xid8;
  v_id bigint;
  v_top xid8 := pg_snapshot_xmin(pg_current_snapshot());
  v_rows integer;
  v_last_xid xid8;
  v_last_id bigint;
  v_n integer;
begin
  -- nothing new below the horizon: no lock taken, no transaction id used (a writer in a
  -- loop would hold back every reader of the log while it runs)
  select s.xid, s.change_id into v_xid, v_id from webhook_state s where s.id = 1;
  if not exists (select 1 from wallet_changes c where (c.xid, c.id) > (v_xid, v_id) and c.xid < v_top) then
    return 0;
  end if;
  select s.xid, s.change_id into v_xid, v_id from webhook_state s where s.id = 1 for update skip locked;
  if not found then return -1; end if;
  with page as (
    select c.xid, c.id, c.changes from wallet_changes c
     where (c.xid, c.id) > (v_xid, v_id) and c.xid < v_top order by c.xid, c.id limit p_limit),
  pairs as (
    select p.xid, p.changes[2 * i - 1] as user_id, p.changes[2 * i] as seq
      from page p, generate_series(1, cardinality(p.changes) / 2) i),
  ins as (
    insert into webhook_deliveries (endpoint_id, user_id, seq)
    select e.id, x.user_id, x.seq
      from pairs x
      join journal j on j.user_id = x.user_id and j.seq = x.seq
      join webhook_endpoints e on (e.event_types is null or j.event = any (e.event_types))
                              and not pg_visible_in_snapshot(x.xid, e.snapshot)
     order by e.id, x.user_id, x.seq
    on conflict do nothing
    returning endpoint_id, user_id),
  queued as (
    insert into webhook_queues (endpoint_id, user_id, next_attempt_at)
    select distinct i.endpoint_id, i.user_id, now() from ins i order by 1, 2
    on conflict (endpoint_id, user_id) do update
      set next_attempt_at = coalesce(webhook_queues.next_attempt_at, excluded.next_attempt_at)
    returning 1)
  select (select count(*) from page), (select count(*) from ins),
         (select p.xid from page p order by p.xid desc, p.id desc limit 1),
         (select p.id from page p order by p.xid desc, p.id desc limit 1)
    into v_rows, v_n, v_last_xid, v_last_id;
  if v_rows = p_limit then
    update webhook_state set xid = v_last_xid, change_id = v_last_id, updated_at = now() where id = 1;
  else
    update webhook_state set xid = greatest(v_top, v_xid), change_id = 0, updated_at = now() where id = 1;
  end if;
  return v_n;
end
$$;

-- A sender's claim: up to p_limit of an endpoint's users whose oldest pending delivery
-- may go now, leased for p_lease_ms, with that delivery (its attempt counted).
create function wallet_webhook_claim(p_endpoint bigint, p_limit integer, p_lease_ms integer)
returns table (id bigint, user_id bigint, seq bigint, attempts integer)
language plpgsql as $$
declare
  v_users bigint[];
begin
  with ready as (
    select q.user_id from webhook_queues q
     where q.endpoint_id = p_endpoint and q.next_attempt_at <= now()
       and (q.lease_until is null or q.lease_until < now())
     order by q.next_attempt_at limit p_limit
       for update skip locked),
  leased as (
    update webhook_queues q set lease_until = now() + p_lease_ms * interval '1 millisecond'
      from ready r where q.endpoint_id = p_endpoint and q.user_id = r.user_id
    returning q.user_id)
  select coalesce(array_agg(l.user_id), '{}') into v_users from leased l;
  if cardinality(v_users) = 0 then return; end if;
  return query
  update webhook_deliveries d set attempts = d.attempts + 1
    from (select h.id from unnest(v_users) u(user_id), lateral (
            select x.id from webhook_deliveries x
             where x.endpoint_id = p_endpoint and x.user_id = u.user_id and x.status = 'pending'
             order by x.seq limit 1) h) heads
   where d.id = heads.id
  returning d.id, d.user_id, d.seq, d.attempts;
  -- a queue found empty rests
  update webhook_queues q set next_attempt_at = null, lease_until = null
   where q.endpoint_id = p_endpoint and q.user_id = any (v_users)
     and not exists (select 1 from webhook_deliveries x
                      where x.endpoint_id = p_endpoint and x.user_id = q.user_id and x.status = 'pending');
end
$$;

-- An attempt's outcome: delivered; or tried again after base * 2^(attempts - 1) ms
-- (capped); or failed after the last attempt. Then the user's queue goes on: with
-- p_lease_ms > 0 the sender keeps it and gets the user's next pending delivery at once
-- (its attempt counted), else it is released (its next delivery due now). The queue row
-- is locked first, so an event enqueued meanwhile is seen. status: 'delivered', 'retry',
-- 'failed', or null if the delivery is gone (its endpoint deleted).
create function wallet_webhook_done(p_delivery bigint, p_ok boolean, p_status integer, p_error text,
                                    p_max_attempts integer, p_base_ms double precision, p_cap_ms double precision,
                                    p_lease_ms integer default 0)
returns table (status text, next_id bigint, next_seq bigint, next_attempts integer)
language plpgsql as $$
declare
  d webhook_deliveries;
  v_at timestamptz;
  v_next bigint;
begin
  select * into d from webhook_deliveries x where x.id = p_delivery;
  if not found then return; end if;
  perform 1 from webhook_queues q where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id for update;
  if not p_ok and d.attempts < p_max_attempts then
    v_at := now() + least(p_cap_ms, p_base_ms * power(2, greatest(d.attempts - 1, 0))) * interval '1 millisecond';
    update webhook_deliveries x set last_status_code = p_status, last_error = p_error, next_attempt_at = v_at
     where x.id = p_delivery and x.status = 'pending';
    update webhook_queues q set next_attempt_at = v_at, lease_until = null
     where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id;
    return query select 'retry'::text, null::bigint, null::bigint, null::integer;
    return;
  end if;
  update webhook_deliveries x
     set status = case when p_ok then 'delivered' else 'failed' end,
         delivered_at = case when p_ok then now() end,
         last_status_code = p_status, last_error = p_error, next_attempt_at = null
   where x.id = p_delivery and x.status = 'pending';
  select x.id into v_next from webhook_deliveries x
   where x.endpoint_id = d.endpoint_id and x.user_id = d.user_id and x.status = 'pending' order by x.seq limit 1;
  if v_next is not null and p_lease_ms > 0 then
    update webhook_queues q set next_attempt_at = now(), lease_until = now() + p_lease_ms * interval '1 millisecond'
     where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id;
    return query
    update webhook_deliveries x set attempts = x.attempts + 1 where x.id = v_next
    returning case when p_ok then 'delivered' else 'failed' end, x.id, x.seq, x.attempts;
    return;
  end if;
  update webhook_queues q
     set lease_until = null, next_attempt_at = case when v_next is not null then now() end
   where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id;
  return query select case when p_ok then 'delivered' else 'failed' end, null::bigint, null::bigint, null::integer;
end
$$;

-- A failed delivery sent again at once (its attempts go on counting). The outcome:
-- 'ok', 'not_failed' or 'not_found'.
create function wallet_webhook_retry(p_endpoint bigint, p_delivery bigint) returns text
language plpgsql as $$
declare
  d webhook_deliveries;
begin
  select * into d from webhook_deliveries x where x.id = p_delivery and x.endpoint_id = p_endpoint;
  if not found then return 'not_found'; end if;
  perform 1 from webhook_queues q where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id for update;
  update webhook_deliveries x set status = 'pending', next_attempt_at = now()
   where x.id = p_delivery and x.status = 'failed';
  if not found then return 'not_failed'; end if;
  update webhook_queues q set next_attempt_at = now()
   where q.endpoint_id = d.endpoint_id and q.user_id = d.user_id;
  return 'ok';
end
$$;

-- Balance monitors. triggered: the condition as last judged (at creation, then at
-- every change of the user).
create table wallet_monitors (
  id         bigint primary key,
  user_id    bigint not null references users (user_id),
  currency   text not null check (currency ~ '^[A-Z]{3}$'),
  field      text not null check (field in ('balance', 'available_balance')),
  operator   text not null check (operator in ('lt', 'lte', 'gt', 'gte')),
  value      bigint not null,
  triggered  boolean not null,
  created_at timestamptz not null default now()
);
create index wallet_monitors_user_idx on wallet_monitors (user_id, id);

-- How many monitors the user has: the trigger below runs only for users with some.
alter table users add column monitors integer not null default 0;

create function wallet_monitor_holds(p_field text, p_operator text, p_value bigint,
                                     p_balance bigint, p_available bigint) returns boolean
language sql immutable as $$
  select case p_operator when 'lt' then v < p_value when 'lte' then v <= p_value
                         when 'gt' then v > p_value else v >= p_value end
    from (select case p_field when 'balance' then p_balance else p_available end as v) x
$$;

-- After a change took the user's next sequence: each monitor whose condition turned
-- true (or false) emits monitor_triggered (16) or monitor_resolved (17), numbered
-- right after it, written to the journal and the change log at once. reason carries
-- "<monitor id> <field> <operator> <value>" (the event's data).
create function wallet_monitor_judge() returns trigger
language plpgsql as $$
declare
  m record;
  j journal;
  v_rows journal[] := '{}';
  v_seq bigint := new.seq;
  v_now boolean;
begin
  for m in select x.id, x.currency, x.field, x.operator, x.value, x.triggered,
                  coalesce(w.balance, 0) as bal, coalesce(w.balance - w.held, 0) as avail
             from wallet_monitors x left join wallets w on w.user_id = x.user_id and w.currency = x.currency
            where x.user_id = new.user_id order by x.id loop
    v_now := wallet_monitor_holds(m.field, m.operator, m.value, m.bal, m.avail);
    continue when v_now = m.triggered;
    update wallet_monitors set triggered = v_now where id = m.id;
    v_seq := v_seq + 1;
    j := null;
    j.user_id := new.user_id; j.seq := v_seq; j.id := wallet_next_id(); j.currency := m.currency;
    j.event := case when v_now then 16 else 17 end; j.direction := 0; j.amount := 0;
    j.balance_after := m.bal; j.available_after := m.avail;
    j.reason := m.id || ' ' || m.field || ' ' || m.operator || ' ' || m.value;
    j.created_at := clock_timestamp();
    v_rows := v_rows || j;
  end loop;
  if cardinality(v_rows) > 0 then
    update users set seq = v_seq where user_id = new.user_id;
    insert into journal select (r).* from unnest(v_rows) r;
    perform wallet_log_changes(v_rows);
  end if;
  return null;
end
$$;

create trigger users_monitors after update of seq on users for each row
  when (new.monitors > 0 and new.seq > old.seq and pg_trigger_depth() = 0)
  execute function wallet_monitor_judge();

-- A monitor, judged at creation under the user's lock (it starts triggered, silently,
-- if its condition already holds), and audited. Null: no such user.
create function wallet_monitor_create(p_user bigint, p_currency text, p_field text, p_operator text,
                                      p_value bigint, p_actor text) returns wallet_monitors
language plpgsql as $$
declare
  m wallet_monitors;
  v_bal bigint;
  v_avail bigint;
begin
  perform 1 from users u where u.user_id = p_user for update;
  if not found then return null; end if;
  select w.balance, w.balance - w.held into v_bal, v_avail from wallets w
   where w.user_id = p_user and w.currency = p_currency;
  insert into wallet_monitors (id, user_id, currency, field, operator, value, triggered)
  values (wallet_next_id(), p_user, p_currency, p_field, p_operator, p_value,
          wallet_monitor_holds(p_field, p_operator, p_value, coalesce(v_bal, 0), coalesce(v_avail, 0)))
  returning * into m;
  update users set monitors = monitors + 1 where user_id = p_user;
  insert into audit_log (id, actor, action, target, details)
  values (wallet_next_id(), p_actor, 'monitor', 'monitor:' || m.id,
          jsonb_build_object('op', 'add', 'user_id', p_user, 'currency', p_currency, 'field', p_field,
                             'operator', p_operator, 'value', p_value));
  return m;
end
$$;

create function wallet_monitor_remove(p_id bigint, p_actor text) returns boolean
language plpgsql as $$
declare
  v_user bigint;
begin
  select m.user_id into v_user from wallet_monitors m where m.id = p_id;
  if not found then return false; end if;
  perform 1 from users u where u.user_id = v_user for update;
  delete from wallet_monitors m where m.id = p_id;
  if not found then return false; end if;
  update users set monitors = monitors - 1 where user_id = v_user;
  insert into audit_log (id, actor, action, target, details)
  values (wallet_next_id(), p_actor, 'monitor', 'monitor:' || p_id, jsonb_build_object('op', 'remove'));
  return true;
end
$$;

-- migrate:down
drop function wallet_monitor_remove(bigint, text);
drop function wallet_monitor_create(bigint, text, text, text, bigint, text);
drop trigger users_monitors on users;
drop function wallet_monitor_judge();
drop function wallet_monitor_holds(text, text, bigint, bigint, bigint);
alter table users drop column monitors;
drop table wallet_monitors;
drop function wallet_webhook_retry(bigint, bigint);
drop function wallet_webhook_done(bigint, boolean, integer, text, integer, double precision, double precision, integer);
drop function wallet_webhook_claim(bigint, integer, integer);
drop function wallet_webhook_enqueue(integer);
drop table webhook_state;
drop table webhook_queues;
drop table webhook_deliveries;
drop table webhook_secrets;
drop table webhook_endpoints;
alter table audit_log drop constraint audit_log_action_check;
alter table audit_log add constraint audit_log_action_check
  check (action in ('freeze', 'unfreeze', 'reversal', 'adjustment', 'transfer_retry', 'fx_rate',
                    'tier_definition', 'tier', 'credit_limit'));
