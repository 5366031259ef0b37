-- 014: the webhook enqueuer, cheaper where 011 and 013 left it.
-- - With no endpoint it moves its position to the horizon in one update, instead of
--   joining each page of the change log with the journal for nobody (the deliverer also
--   stops waking on every commit while there is no endpoint: core/webhooks/deliverer.ts).
-- - Each change's journal row is read by its primary key (a lateral lookup per change):
--   011's join let the planner hash the whole journal when its statistics were poor
--   (15 s a call on 10M entries with one endpoint, bench/README.md).
-- - jit stays off (013), now in the definition itself.
create or replace function wallet_webhook_enqueue(p_limit integer) returns integer
language plpgsql set jit = off as $$
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
  -- no endpoint: nothing to deliver, so the position moves to the horizon without
  -- reading the log's pages (an endpoint created later receives only what its own
  -- snapshot does not see, which is after this position anyway)
  if not exists (select 1 from webhook_endpoints) then
    update webhook_state set xid = greatest(v_top, v_xid), change_id = 0, updated_at = now() where id = 1;
    return 0;
  end if;
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
      cross join lateral (select j.event from journal j where j.user_id = x.user_id and j.seq = x.seq) j
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

