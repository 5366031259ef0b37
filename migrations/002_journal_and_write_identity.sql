-- 002: the journal (every change of a wallet, in order) and the write identity.
--
-- Every write now carries an id the service makes before its first attempt (the
-- transaction, transfer or hold id it will return). After a lost connection the
-- service sends the same operation again with p_retry: an operation whose id is
-- already in the journal (or in transfers) is answered from what was stored, never
-- applied again.
--
-- The journal replaces entries. One row per change of a wallet, numbered by seq
-- (1, 2, 3... with no gap, assigned under the wallet's row lock; the wallet's
-- version is its last seq). Rows that move money carry a history kind; the others
-- (a failed async transfer, and later holds and freezes) only record an event.
-- History is the money rows, newest first; events are all rows, oldest first.

-- Ids: 41 bits of milliseconds since 2025-01-01, then 22 bits. Ids made inside
-- PostgreSQL take the lower half of the 22 bits (a shared sequence); the service
-- draws blocks of 1024 from wallet_id_block_seq and uses the upper half. So the two
-- never collide, and two ids collide only if 2^21 are drawn from one half in one ms.
create or replace function wallet_next_id() returns bigint
language sql volatile as $$
  select ((floor(extract(epoch from clock_timestamp()) * 1000)::bigint - 1735689600000) << 22)
         | (nextval('wallet_id_seq') % 2097152)
$$;
create sequence wallet_id_block_seq increment by 1024;

-- The result of one operation: an outcome ('ok', 'accepted' or a refusal code), the
-- answer's data, and the wallets it changed as (user, new version) pairs.
create type wallet_step as (outcome text, result jsonb, changes bigint[]);

-- A refused operation: its code, no data, no change.
create function wallet_refuse(p_code text) returns wallet_step
language sql immutable as $$ select (p_code, null, null)::wallet_step $$;

create table journal (
  user_id              bigint not null references wallets (user_id),
  seq                  bigint not null check (seq > 0),
  id                   bigint not null, -- the operation: transaction, transfer or hold id
  -- 1 deposit, 2 withdraw, 3 transfer_in, 4 transfer_out, 5 transfer_failed, 6 hold_created,
  -- 7 hold_captured, 8 hold_voided, 9 hold_expired, 10 reversal, 11 adjustment, 12 frozen, 13 unfrozen
  event                smallint not null,
  -- money rows only: 1 deposit, 2 withdraw, 3 transfer, 4 reversal, 5 adjustment
  kind                 smallint check (kind between 1 and 5),
  direction            smallint not null check (direction in (-1, 0, 1)), -- out, none, in
  amount               bigint not null check (amount > 0),
  balance_after        bigint not null check (balance_after >= 0),
  available_after      bigint not null,
  counterparty_user_id bigint,
  transfer_id          bigint,
  hold_id              bigint,
  reverses             bigint,
  reason               text,
  created_at           timestamptz not null default now(),
  primary key (user_id, seq),
  check ((kind is null) = (direction = 0))
);
-- an operation's rows by its id (reversals, replays); one row per wallet per operation
create unique index journal_id_idx on journal (id, user_id);
-- history of one kind, newest first
create index journal_kind_idx on journal (user_id, kind, seq desc) where kind is not null;

-- The old entries become journal rows, numbered per wallet in id order (the order
-- they were written in, under the wallet's lock). A transfer's two rows take the
-- transfer's id, as new transfers do.
insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after,
                     counterparty_user_id, transfer_id, created_at)
select user_id, row_number() over (partition by user_id order by id), coalesce(transfer_id, id),
       case when type = 1 then 1 when type = 2 then 2 when direction = 1 then 3 else 4 end,
       type, direction, amount, balance_after, balance_after, counterparty_user_id, transfer_id, created_at
  from entries;
update wallets w set version = coalesce((select max(j.seq) from journal j where j.user_id = w.user_id), 0);
drop table entries;

-- Synchronous transfers no longer write a transfers row: their journal rows say it all.
-- transfers is the async queue (and the record of old synchronous transfers).

-- Which operation created an idempotency key: a retry of that same operation (after
-- a lost connection) is not a replay of someone else's request.
alter table idempotency_keys add column op_id bigint;

-- Changes one locked wallet and appends its journal row; returns the new figures.
-- direction 1 credits amount, -1 debits it, 0 records an event that moves no money.
create function wallet_record(p_user bigint, p_event smallint, p_kind smallint, p_direction smallint,
                              p_amount bigint, p_id bigint, p_counterparty bigint default null,
                              p_transfer bigint default null, p_hold bigint default null,
                              p_reverses bigint default null, p_reason text default null,
                              out balance bigint, out available bigint, out version bigint)
language plpgsql as $$
begin
  update wallets w set balance = w.balance + p_direction * p_amount, version = w.version + 1, updated_at = now()
   where w.user_id = p_user
  returning w.balance, w.balance, w.version into balance, available, version;
  insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after,
                       counterparty_user_id, transfer_id, hold_id, reverses, reason)
  values (p_user, version, p_id, p_event, p_kind, p_direction, p_amount, balance, available,
          p_counterparty, p_transfer, p_hold, p_reverses, p_reason);
end
$$;

-- Why a debit of amount from this (locked) wallet is refused, or null.
create function wallet_debit_refusal(w wallets, p_amount bigint) returns text
language sql stable as $$
  select case when w.balance < p_amount then 'insufficient_funds' end
$$;

-- Locks the given wallets in user-id order (so concurrent batches wait for each
-- other instead of deadlocking). Returns the changes it made itself (none yet).
create function wallet_lock(p_users bigint[]) returns bigint[]
language plpgsql as $$
begin
  perform 1 from wallets where user_id = any (p_users) order by user_id for update;
  return '{}';
end
$$;

create function wallet_op_deposit(p_id bigint, p_user bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  w wallets;
  b record;
begin
  select * into w from wallets where user_id = p_user;
  if w.balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  b := wallet_record(p_user, 1::smallint, 1::smallint, 1::smallint, p_amount, p_id);
  return ('ok', jsonb_build_object('balance', b.balance, 'transaction_id', p_id::text), array[p_user, b.version])::wallet_step;
end
$$;

create function wallet_op_withdraw(p_id bigint, p_user bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  w wallets;
  b record;
  v_refusal text;
begin
  select * into w from wallets where user_id = p_user;
  v_refusal := wallet_debit_refusal(w, p_amount);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  b := wallet_record(p_user, 2::smallint, 2::smallint, -1::smallint, p_amount, p_id);
  return ('ok', jsonb_build_object('balance', b.balance, 'transaction_id', p_id::text), array[p_user, b.version])::wallet_step;
end
$$;

-- Moves money between two locked wallets: both journal rows carry the transfer's id.
create function wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  f wallets;
  t wallets;
  a record;
  b record;
  v_refusal text;
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  select * into t from wallets where user_id = p_to;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  select * into f from wallets where user_id = p_from;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  v_refusal := wallet_debit_refusal(f, p_amount);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  if t.balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  a := wallet_record(p_from, 4::smallint, 3::smallint, -1::smallint, p_amount, p_id, p_to, p_id);
  b := wallet_record(p_to, 3::smallint, 3::smallint, 1::smallint, p_amount, p_id, p_from, p_id);
  return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', a.balance),
          array[p_from, a.version, p_to, b.version])::wallet_step;
end
$$;

-- Transfer v2 acceptance: what can be known now (not to oneself, the destination
-- exists); funds are judged when a worker applies it.
create function wallet_op_accept(p_id bigint, p_from bigint, p_to bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  if not exists (select 1 from wallets where user_id = p_to) then return wallet_refuse('wallet_not_found'); end if;
  insert into transfers (id, from_user_id, to_user_id, amount, async, status)
  values (p_id, p_from, p_to, p_amount, true, 'pending');
  -- delivered at commit: wakes the workers (LISTEN wallet_transfers)
  perform pg_notify('wallet_transfers', '');
  return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
end
$$;

-- After an unknown outcome: if operation p_id was applied, its answer again (built
-- from what it wrote); else null, and the caller applies it now.
create function wallet_replay(p_kind smallint, p_id bigint, p_user bigint) returns wallet_step
language plpgsql as $$
declare
  j journal;
begin
  if p_kind = 4 then
    if exists (select 1 from transfers where id = p_id) then
      return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
    end if;
    return null;
  end if;
  select * into j from journal where id = p_id and user_id = p_user;
  if not found then return null; end if;
  if p_kind = 3 then
    return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', j.balance_after), null)::wallet_step;
  end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text), null)::wallet_step;
end
$$;

-- Tells every listening process which wallets changed: LISTEN wallet_changes.
-- Delivered only at commit, whoever called. Payload: '1' on the last chunk (else
-- '0'), the caller's token, a space, then user:version pairs; at most 200 pairs a
-- notification (a payload must stay under 8000 bytes). A token without changes
-- still sends its last chunk: the writer waiting for it learns its batch committed.
create function wallet_notify_changes(p_token text, p_changes bigint[]) returns void
language plpgsql as $$
declare
  n integer := coalesce(array_length(p_changes, 1), 0) / 2;
  i integer := 0;
  v_chunk text;
begin
  if n = 0 and p_token is null then return; end if;
  loop
    select string_agg(p_changes[2 * k - 1] || ':' || p_changes[2 * k], ',') into v_chunk
      from generate_series(i + 1, least(i + 200, n)) k;
    i := i + 200;
    perform pg_notify('wallet_changes',
                      (case when i >= n then '1' else '0' end) || coalesce(p_token, '') || ' ' || coalesce(v_chunk, ''));
    exit when i >= n;
  end loop;
end
$$;

-- Outcomes an operation may return; anything else is a bug and rolls the batch back
-- (so it is never stored as an idempotent answer).
create function wallet_known_outcome(p_outcome text) returns boolean
language sql immutable as $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded')
$$;

-- Applies a batch of operations in order, in one transaction: the only way money
-- moves for a request. p_ops is a JSON array of
--   {"k": kind, "id": operation id, "u": acting user, "c": counterparty, "a": amount,
--    "key": Idempotency-Key, "h": request hash}
-- kind: 1 deposit, 2 withdraw, 3 transfer (c is the destination), 4 transfer v2 acceptance.
-- p_retry: the batch may have been applied already (an earlier attempt's outcome is
-- unknown): answer an operation found by its id (or key) from what it stored.
-- p_token: sent back on wallet_changes at commit (see wallet_notify_changes).
-- One row per operation: its outcome, the answer's data, and whether that answer is
-- the stored one of another request with the same Idempotency-Key.
create function wallet_apply(p_ops jsonb, p_retry boolean default false, p_token text default null)
returns table (ord integer, outcome text, result jsonb, replayed boolean)
language plpgsql as $$
declare
  o record;
  s wallet_step;
  v_changes bigint[] := '{}';
  v_hash text;
  v_op bigint;
begin
  -- the acting user's wallet opens on first use, then every wallet of the batch is
  -- locked in user-id order: batches wait for each other, never deadlock
  insert into wallets (user_id)
  select distinct (e ->> 'u')::bigint from jsonb_array_elements(p_ops) e order by 1
  on conflict do nothing;
  v_changes := wallet_lock(array(
    select (e ->> 'u')::bigint from jsonb_array_elements(p_ops) e
    union select (e ->> 'c')::bigint from jsonb_array_elements(p_ops) e where e ->> 'c' is not null));

  ord := 0;
  for o in select * from jsonb_to_recordset(p_ops)
             as x(k smallint, id bigint, u bigint, c bigint, a bigint, key text, h text) loop
    ord := ord + 1;
    replayed := false;
    if o.key is not null then
      -- a concurrent request with the same key waits here until the first commits
      insert into idempotency_keys (user_id, key, request_hash, op_id) values (o.u, o.key, o.h, o.id)
      on conflict do nothing;
      if not found then
        select k.request_hash, k.outcome, k.result, k.op_id into v_hash, outcome, result, v_op
          from idempotency_keys k where k.user_id = o.u and k.key = o.key;
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
      s := wallet_replay(o.k, o.id, o.u);
      if s.outcome is not null then
        outcome := s.outcome;
        result := s.result;
        return next;
        continue;
      end if;
    end if;

    if o.k = 1 then
      s := wallet_op_deposit(o.id, o.u, o.a);
    elsif o.k = 2 then
      s := wallet_op_withdraw(o.id, o.u, o.a);
    elsif o.k = 3 then
      s := wallet_op_transfer(o.id, o.u, o.c, o.a);
    elsif o.k = 4 then
      s := wallet_op_accept(o.id, o.u, o.c, o.a);
    else
      raise exception 'wallet_apply: unknown operation kind %', o.k;
    end if;
    if not wallet_known_outcome(s.outcome) then
      raise exception 'wallet_apply: operation kind % returned unknown outcome %', o.k, s.outcome;
    end if;
    outcome := s.outcome;
    result := s.result;
    if s.changes is not null then v_changes := v_changes || s.changes; end if;
    if o.key is not null then
      update idempotency_keys k set outcome = s.outcome, result = s.result
       where k.user_id = o.u and k.key = o.key;
    end if;
    return next;
  end loop;
  perform wallet_notify_changes(p_token, v_changes);
end
$$;

-- The async side, on the same operation functions. A worker's step stays one call
-- (wallet_process_transfers: claim, apply, mark); applying now goes through
-- wallet_op_transfer, and a transfer that fails records a transfer_failed event.
drop function wallet_process_transfers(integer, integer, double precision, double precision);
drop function wallet_apply_transfers(bigint[]);
drop function wallet_post(smallint[], bigint[], bigint[], bigint[], text[], text[]);
drop function wallet_accept_transfers(bigint[], bigint[], bigint[], text[], text[]);
drop function wallet_move(bigint, bigint, bigint, bigint);

create function wallet_apply_transfers(p_ids bigint[])
returns table (id bigint, outcome text)
language plpgsql as $$
declare
  t record;
  s wallet_step;
  v_changes bigint[];
  v_failed record;
begin
  v_changes := wallet_lock(array(
    select c.from_user_id from transfers c where c.id = any (p_ids)
    union select c.to_user_id from transfers c where c.id = any (p_ids)));
  -- row locks make the apply safe on its own: a transfer another transaction has
  -- meanwhile applied is re-checked, found no longer pending, and skipped
  for t in select c.id, c.from_user_id, c.to_user_id, c.amount from transfers c
            where c.id = any (p_ids) and c.status = 'pending' order by c.id for update loop
    s := wallet_op_transfer(t.id, t.from_user_id, t.to_user_id, t.amount);
    if s.outcome = 'ok' then
      v_changes := v_changes || s.changes;
    else
      v_failed := wallet_record(t.from_user_id, 5::smallint, null, 0::smallint, t.amount, t.id,
                                t.to_user_id, t.id, p_reason => s.outcome);
      v_changes := v_changes || array[t.from_user_id, v_failed.version];
    end if;
    update transfers c set status = case when s.outcome = 'ok' then 'completed' else 'failed' end,
                           failure_reason = nullif(s.outcome, 'ok'),
                           attempts = c.attempts + 1, updated_at = now(), completed_at = now()
     where c.id = t.id;
    id := t.id;
    outcome := s.outcome;
    return next;
  end loop;
  perform wallet_notify_changes(null, v_changes);
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
returns table (id bigint, outcome text, error text, attempts integer)
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
          return query select d.id, d.status, sqlerrm, d.attempts
                         from wallet_defer_transfers(array[v_id], sqlerrm, p_max_attempts, p_base_ms, p_cap_ms) d;
        end;
      end loop;
    else
      return query select d.id, d.status, v_err, d.attempts
                     from wallet_defer_transfers(v_ids, v_err, p_max_attempts, p_base_ms, p_cap_ms) d;
    end if;
  end;
  for v_done in select * from jsonb_to_recordset(v_applied) as x(id bigint, outcome text) loop
    id := v_done.id;
    outcome := v_done.outcome;
    error := null;
    attempts := null;
    return next;
  end loop;
end
$$;

-- migrate:down
do $$ begin
  raise exception '002_journal_and_write_identity cannot be undone in place: restore a backup taken before it';
end $$;
