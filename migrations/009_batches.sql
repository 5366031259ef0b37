-- 009: batches, references, metadata and conditional writes.
--
-- reference (a client's own id), metadata (a small JSON object of strings) and
-- batch_id are stored with every journal row an operation makes (both sides of a
-- transfer), with holds and with transfers (a v2 transfer carries them to the rows
-- made when a worker applies it). They are set by wallet_apply on the rows an
-- operation's function returns (rows are buffered, then flushed), so no wallet_op_*
-- function changes. metadata is null when absent (shown as {}).
--
-- A batch is one wallet_op of kind 14 whose ops attribute holds its operations.
-- wallet_apply runs them in order inside a block with an exception handler (a
-- subtransaction): the first refusal raises a private exception, which undoes the
-- batch's earlier operations and nothing else of the call, and the batch is answered
-- batch_refused with that operation's index and code. Its journal rows are buffered
-- in the block's own array, so a refused batch leaves none behind. A batch that
-- applied is recorded in batches (its answer), so that a retry after an unknown
-- outcome finds it by its id and answers it again instead of applying it twice.
--
-- expected_version (ev) is judged under the lock, before the operation, against
-- wallets.version of the wallet it debits (the caller's for a deposit); a wallet
-- never used is at version 0.

alter table journal add column reference text, add column metadata jsonb, add column batch_id bigint;
alter table holds add column reference text, add column metadata jsonb, add column batch_id bigint;
alter table transfers add column reference text, add column metadata jsonb, add column batch_id bigint;

-- ?reference= per user: an index range read however long the history
create index journal_reference_idx on journal (user_id, reference, seq desc)
  where reference is not null and kind is not null;

create table batches (
  id         bigint primary key,
  user_id    bigint not null,
  result     jsonb not null,
  created_at timestamptz not null default now()
);

alter type wallet_op add attribute ref text;
alter type wallet_op add attribute meta jsonb;
alter type wallet_op add attribute ev bigint;
alter type wallet_op add attribute ops jsonb;

create or replace function wallet_known_outcome(p_outcome text) returns boolean
language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold',
                       'wallet_frozen', 'reversal_exceeds_original', 'not_reversible', 'quote_used', 'quote_expired',
                       'rate_unavailable', 'amount_too_small', 'version_mismatch', 'batch_refused')
$$;

-- a hold as the API shows it, with its reference and metadata
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
    'created_at', wallet_iso(h.created_at),
    'reference', h.reference,
    'metadata', coalesce(h.metadata, '{}'::jsonb))
$$;

-- the rows with their reference, metadata and batch
create function wallet_tag_rows(p_rows journal[], p_ref text, p_meta jsonb, p_batch bigint) returns journal[]
language plpgsql immutable as $$
declare
  j journal;
  v journal[] := '{}';
begin
  if p_rows is null or (p_ref is null and p_meta is null and p_batch is null) then return p_rows; end if;
  foreach j in array p_rows loop
    j.reference := p_ref;
    j.metadata := p_meta;
    j.batch_id := p_batch;
    v := v || j;
  end loop;
  return v;
end
$$;

-- the version of the wallet an operation debits (the caller's for a deposit); null: nothing to judge
create function wallet_payer_version(o wallet_op) returns bigint
language sql stable as $$
  select case
    when o.k in (1, 2, 3, 4, 5) then
      coalesce((select w.version from wallets w where w.user_id = o.u and w.currency = o.cur), 0)
    when o.k in (6, 7) then
      (select coalesce(w.version, 0) from holds h
         left join wallets w on w.user_id = h.user_id and w.currency = h.currency where h.id = o.r)
    when o.k = 12 then
      (select coalesce(w.version, 0) from fx_quotes q
         left join wallets w on w.user_id = q.user_id and w.currency = q.from_currency
        where q.id = o.r and q.user_id = o.u)
  end
$$;

-- one operation: its expected version judged, applied, its rows (and hold or transfer) tagged
create function wallet_apply_one(o wallet_op, p_batch bigint) returns wallet_step
language plpgsql as $$
declare
  s wallet_step;
  v_ref text := o.ref;
  v_meta jsonb := o.meta;
  v_version bigint;
begin
  if o.ev is not null then
    v_version := wallet_payer_version(o);
    if v_version is not null and v_version <> o.ev then return wallet_refuse('version_mismatch'); end if;
  end if;
  s := wallet_dispatch(o, false);
  if s.outcome not in ('ok', 'accepted') then return s; end if;
  if o.k in (6, 7) and (v_ref is null or v_meta is null) then
    -- a capture's (or void's) entries carry its own reference, else the hold's
    select coalesce(v_ref, h.reference), coalesce(v_meta, h.metadata) into v_ref, v_meta from holds h where h.id = o.r;
  end if;
  s.rows := wallet_tag_rows(s.rows, v_ref, v_meta, p_batch);
  if v_ref is not null or v_meta is not null or p_batch is not null then
    if o.k = 5 then
      update holds set reference = v_ref, metadata = v_meta, batch_id = p_batch where id = o.id;
      s.result := s.result || jsonb_build_object('reference', v_ref, 'metadata', coalesce(v_meta, '{}'::jsonb));
    elsif o.k = 4 then
      update transfers set reference = v_ref, metadata = v_meta, batch_id = p_batch where id = o.id;
    end if;
  end if;
  return s;
end
$$;

-- a client's batch: all of its operations, in order, or none of them
create function wallet_apply_batch(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  v_ops wallet_op[] := array(select x from jsonb_populate_recordset(null::wallet_op, o.ops) x);
  x wallet_op;
  s wallet_step;
  v_rows journal[] := '{}';
  v_results jsonb := '[]';
  v_index integer := 0;
  v_code text;
  v_result jsonb;
begin
  begin
    foreach x in array v_ops loop
      if x.k not in (1, 2, 3, 5, 6, 7, 12) or x.u is distinct from o.u then
        raise exception 'wallet_apply_batch: operation kind % of user % cannot be in a batch of user %', x.k, x.u, o.u;
      end if;
      s := wallet_apply_one(x, o.id);
      if s.outcome <> 'ok' then
        v_code := s.outcome;
        raise exception using errcode = 'WB001', message = 'batch refused';
      end if;
      if s.rows is not null then v_rows := v_rows || s.rows; end if;
      v_results := v_results || jsonb_build_array(s.result);
      v_index := v_index + 1;
    end loop;
    v_result := jsonb_build_object('batch_id', o.id::text, 'results', v_results);
    insert into batches (id, user_id, result) values (o.id, o.u, v_result);
  exception when sqlstate 'WB001' then
    -- everything the batch did is undone; its buffered rows are dropped with v_rows
    return ('batch_refused', jsonb_build_object('index', v_index, 'code', v_code), null)::wallet_step;
  end;
  return ('ok', v_result, v_rows)::wallet_step;
end
$$;

-- a batch whose outcome is unknown, asked again by its id: its stored answer, or null (not applied)
create function wallet_replay_batch(o wallet_op) returns wallet_step
language sql stable as $$
  select ('ok', b.result, null)::wallet_step from batches b where b.id = o.id
$$;

create or replace function wallet_apply(p_ops jsonb, p_retry boolean default false)
returns table (ord integer, outcome text, result jsonb, replayed boolean, changes bigint[])
language plpgsql as $$
declare
  v_ops wallet_op[] := array(select x from jsonb_populate_recordset(null::wallet_op, p_ops) x);
  -- the operations with those of every batch among them: what the locks must cover
  v_all wallet_op[];
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
  v_all := v_ops;
  if exists (select 1 from unnest(v_ops) x where x.k = 14) then
    v_all := v_all || array(select y from unnest(v_ops) x, jsonb_populate_recordset(null::wallet_op, x.ops) y
                             where x.k = 14);
  end if;
  v_lock := wallet_lock(wallet_batch_users(v_all));
  if not v_actors <@ v_lock.locked then
    insert into users (user_id) select u from unnest(v_actors) u order by 1 on conflict do nothing;
  end if;
  if exists (select 1 from unnest(v_all) x where x.k = 12) then
    perform wallet_lock_positions(array(select x.r from unnest(v_all) x where x.k = 12));
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
      s := case when o.k = 14 then wallet_replay_batch(o) else wallet_dispatch(o, true) end;
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
    s := case when o.k = 14 then wallet_apply_batch(o) else wallet_apply_one(o, null) end;
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

-- a v2 transfer's reference and metadata go with the rows its completion (or failure) makes
create or replace function wallet_apply_transfers(p_ids bigint[])
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
  for t in select c.id, c.from_user_id, c.to_user_id, c.currency, c.amount, c.reference, c.metadata, c.batch_id
             from transfers c
            where c.id = any (p_ids) and c.status = 'pending' order by c.id for update loop
    s := wallet_op_transfer(t.id, t.from_user_id, t.to_user_id, t.currency, t.amount);
    if s.outcome <> 'ok' then
      s.rows := array[wallet_record(t.from_user_id, t.currency, 5::smallint, null, 0::smallint, t.amount, t.id,
                                    t.to_user_id, t.id, p_reason => s.outcome)];
    end if;
    s.rows := wallet_tag_rows(s.rows, t.reference, t.metadata, t.batch_id);
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
