-- 006: the change log replaces NOTIFY. Each transaction that changes wallets (or accepts
-- async transfers) writes one wallet_changes row, in the same transaction. Every
-- process reads the log in commit order (by transaction id, below the oldest one still
-- running), whoever wrote it: caches, long polls, workers and the events relay follow
-- it. NOTIFY serialised the commits of every notifying transaction in the cluster (one
-- global lock at commit; the measurement is in bench/README.md). The event_outbox of
-- 005 goes too: the change log names the same wallets, and the relay keeps its place
-- in it (relay_state).

-- One row per transaction that changed wallets: the (user, new version) pairs and how
-- many async transfers it accepted. Readers take the rows whose transaction id is
-- below pg_snapshot_xmin(pg_current_snapshot()): every such transaction has ended, so
-- nothing they have not seen can still appear below that horizon.
create table wallet_changes (
  id         bigserial primary key,
  xid        xid8 not null default pg_current_xact_id(),
  changes    bigint[] not null,
  accepted   integer not null default 0,
  created_at timestamptz not null default now()
);
create index wallet_changes_xid_idx on wallet_changes (xid);

-- How far the relay has read the change log (by transaction id, then row id), one row.
-- None yet after this migration: the relay's first pass scans the wallets for events
-- it has not published (relay_cursor against wallets.version), so nothing left in
-- event_outbox is lost.
create table relay_state (
  id         integer primary key default 1 check (id = 1),
  xid        xid8 not null,
  change_id  bigint not null,
  updated_at timestamptz not null default now()
);
drop table event_outbox;

-- Records in the change log what a transaction changed (the rows' user and seq) and
-- how many async transfers it accepted (the workers wake on it).
create function wallet_log_changes(p_rows journal[], p_accepted integer default 0) returns void
language sql as $$
  insert into wallet_changes (changes, accepted)
  select array(select x from unnest(p_rows) r, lateral (values (r.user_id), (r.seq)) v(x)), p_accepted
   where cardinality(p_rows) > 0 or p_accepted > 0
$$;


-- The writer learns the versions it made (the changes column) and answers once its
-- own caches know them; the token argument (for NOTIFY) is gone.
drop function wallet_apply(jsonb, boolean, text);

-- Applies a batch of operations in order, in one transaction: the only way money
-- moves for a request. p_ops is a JSON array of wallet_op:
--   {"k": kind, "id": operation id, "u": acting user, "c": counterparty, "a": amount,
--    "key": Idempotency-Key, "h": request hash}
-- kind: 1 deposit, 2 withdraw, 3 transfer (c is the destination), 4 transfer v2 acceptance.
-- p_retry: the batch may have been applied already (an earlier attempt's outcome is
-- unknown): answer an operation found by its id (or key) from what it stored.
-- One row per operation: its outcome, the answer's data, whether that answer is the
-- stored one of another request with the same Idempotency-Key, and the wallets it
-- changed as user, version pairs (the writer's own caches hear of them before it
-- answers; everyone else reads the change log).
create function wallet_apply(p_ops jsonb, p_retry boolean default false)
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
  -- every wallet of the batch locked in user-id order: batches wait for each other,
  -- never deadlock; an acting user's wallet opens on first use (inserted in order,
  -- and so held by this transaction too)
  v_lock := wallet_lock(wallet_batch_users(v_ops));
  if not v_actors <@ v_lock.locked then
    insert into wallets (user_id) select u from unnest(v_actors) u order by 1 on conflict do nothing;
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


-- The same, returning the versions each transfer made.
drop function wallet_process_transfers(integer, integer, double precision, double precision);
drop function wallet_apply_transfers(bigint[]);

create function wallet_apply_transfers(p_ids bigint[])
returns table (id bigint, outcome text, changes bigint[])
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
  for t in select c.id, c.from_user_id, c.to_user_id, c.amount from transfers c
            where c.id = any (p_ids) and c.status = 'pending' order by c.id for update loop
    s := wallet_op_transfer(t.id, t.from_user_id, t.to_user_id, t.amount);
    if s.outcome <> 'ok' then
      s.rows := array[wallet_record(t.from_user_id, 5::smallint, null, 0::smallint, t.amount, t.id,
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



-- A worker's whole step in one call (one round trip, one transaction): claim, apply,
-- mark. If applying fails, the block's implicit savepoint undoes only the apply: the
-- claim's row locks are still held, so the failed attempt is counted here and no
-- other worker can take the transfer in between. A failed batch is applied again one
-- transfer at a time, so one transfer's fault costs the others nothing. A lost
-- connection rolls back the whole call: nothing is counted, everything stays pending.
-- outcome: 'ok' or a refusal code (applied), 'retry' or 'dead' (deferred, with error).
create function wallet_process_transfers(p_limit integer, p_max_attempts integer,
                                         p_base_ms double precision, p_cap_ms double precision)
returns table (id bigint, outcome text, error text, attempts integer, changes bigint[])
language plpgsql as $$
declare
  v_ids bigint[];
  v_id bigint;
  v_err text;
  v_done record;
  v_applied jsonb := '[]';
begin
  v_ids := wallet_claim_transfers(p_limit);
  if cardinality(v_ids) = 0 then return; end if;
  begin
    -- collected first and returned after the block: rows handed back inside it would
    -- survive the block's rollback
    select coalesce(jsonb_agg(to_jsonb(a)), '[]') into v_applied from wallet_apply_transfers(v_ids) a;
  exception when others then
    v_err := sqlerrm;
    v_applied := '[]';
    if cardinality(v_ids) > 1 then
      foreach v_id in array v_ids loop
        begin
          select v_applied || coalesce(jsonb_agg(to_jsonb(a)), '[]') into v_applied
            from wallet_apply_transfers(array[v_id]) a;
        exception when others then
          return query select d.id, d.status, sqlerrm, d.attempts, null::bigint[]
                         from wallet_defer_transfers(array[v_id], sqlerrm, p_max_attempts, p_base_ms, p_cap_ms) d;
        end;
      end loop;
    else
      return query select d.id, d.status, v_err, d.attempts, null::bigint[]
                     from wallet_defer_transfers(v_ids, v_err, p_max_attempts, p_base_ms, p_cap_ms) d;
    end if;
  end;
  for v_done in select * from jsonb_to_recordset(v_applied) as x(id bigint, outcome text, changes bigint[]) loop
    id := v_done.id;
    outcome := v_done.outcome;
    error := null;
    attempts := null;
    changes := v_done.changes;
    return next;
  end loop;
end
$$;



-- The background marker: releases expired holds of up to p_limit wallets, skipping
-- wallets another transaction holds (it releases them itself when it locks them).
-- Returns how many holds it marked.
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
  for v_user in select user_id from wallets where user_id = any (v_users) order by user_id for update skip locked loop
    v_rows := v_rows || wallet_release_expired(v_user);
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
  return cardinality(v_rows);
end
$$;


-- Accepting an async transfer no longer notifies: wallet_apply counts acceptances
-- into the change log, which wakes the workers.

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
  return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
end
$$;


drop function wallet_notify(journal[], text);
