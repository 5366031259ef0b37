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

-- The result of one operation: an outcome ('ok', 'accepted' or a refusal code), the
-- answer's data, and the journal rows it made (written by the caller, all rows of a
-- batch in one insert).
create type wallet_step as (outcome text, result jsonb, rows journal[]);

-- One operation of a batch, as wallet_apply takes them (see there).
create type wallet_op as (k smallint, id bigint, u bigint, c bigint, a bigint, key text, h text);

-- A refused operation: its code, no data, no change.
create function wallet_refuse(p_code text) returns wallet_step
language sql immutable as $$ select (p_code, null, null)::wallet_step $$;

-- Why a debit of amount from this (locked) wallet is refused, or null.
create function wallet_debit_refusal(w wallets, p_amount bigint) returns text
language sql stable as $$
  select case when w.balance < p_amount then 'insufficient_funds' end
$$;

-- Changes one locked wallet and returns its journal row (the caller writes it).
-- direction 1 credits amount, -1 debits it, 0 records an event that moves no money.
-- A debit the wallet cannot pay (wallet_debit_refusal), or a credit past 2^53-1,
-- changes nothing and returns null: one statement both checks and applies.
create function wallet_record(p_user bigint, p_event smallint, p_kind smallint, p_direction smallint,
                              p_amount bigint, p_id bigint, p_counterparty bigint default null,
                              p_transfer bigint default null, p_hold bigint default null,
                              p_reverses bigint default null, p_reason text default null)
returns journal
language plpgsql as $$
declare
  j journal;
begin
  update wallets w set balance = w.balance + p_direction * p_amount, version = w.version + 1, updated_at = now()
   where w.user_id = p_user
     and (p_direction >= 0 or wallet_debit_refusal(w, p_amount) is null)
     and (p_direction <= 0 or w.balance <= 9007199254740991 - p_amount)
  returning w.version, w.balance, w.balance into j.seq, j.balance_after, j.available_after;
  if not found then return null; end if;
  j.user_id := p_user; j.id := p_id; j.event := p_event; j.kind := p_kind; j.direction := p_direction;
  j.amount := p_amount; j.counterparty_user_id := p_counterparty; j.transfer_id := p_transfer;
  j.hold_id := p_hold; j.reverses := p_reverses; j.reason := p_reason; j.created_at := now();
  return j;
end
$$;

-- Why a debit from this wallet was refused (after wallet_record returned null).
create function wallet_debit_refused(p_user bigint, p_amount bigint) returns wallet_step
language sql stable as $$
  select wallet_refuse(coalesce((select wallet_debit_refusal(w, p_amount) from wallets w where w.user_id = p_user),
                                'wallet_not_found'))
$$;

-- Locks the given wallets in user-id order (so concurrent batches wait for each other
-- instead of deadlocking). Returns the journal rows of changes it made itself (none
-- yet; holds add some) and the wallets it found.
create function wallet_lock(p_users bigint[], out rows journal[], out locked bigint[])
language plpgsql as $$
begin
  locked := array(select user_id from wallets where user_id = any (p_users) order by user_id for update);
  rows := '{}';
end
$$;

create function wallet_op_deposit(p_id bigint, p_user bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  j journal := wallet_record(p_user, 1::smallint, 1::smallint, 1::smallint, p_amount, p_id);
begin
  if j.seq is null then return wallet_refuse('balance_limit_exceeded'); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text), array[j])::wallet_step;
end
$$;

create function wallet_op_withdraw(p_id bigint, p_user bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  j journal := wallet_record(p_user, 2::smallint, 2::smallint, -1::smallint, p_amount, p_id);
begin
  if j.seq is null then return wallet_debit_refused(p_user, p_amount); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text), array[j])::wallet_step;
end
$$;

-- Moves money between two locked wallets: both journal rows carry the transfer's id.
-- The receiver is checked first, so that once the debit is made the credit cannot fail.
create function wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_amount bigint) returns wallet_step
language plpgsql as $$
declare
  v_to_balance bigint;
  a journal;
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  select balance into v_to_balance from wallets where user_id = p_to;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_to_balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  a := wallet_record(p_from, 4::smallint, 3::smallint, -1::smallint, p_amount, p_id, p_to, p_id);
  if a.seq is null then return wallet_debit_refused(p_from, p_amount); end if;
  return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', a.balance_after),
          array[a, wallet_record(p_to, 3::smallint, 3::smallint, 1::smallint, p_amount, p_id, p_from, p_id)])::wallet_step;
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

-- After an unknown outcome: if operation o was applied, its answer again (built from
-- what it wrote); else null, and the caller applies it now. A deposit, withdrawal or
-- transfer is found by its id in the journal, an accepted transfer in transfers.
create function wallet_replay_journal(o wallet_op) returns wallet_step
language plpgsql as $$
declare
  j journal;
begin
  select * into j from journal where id = o.id and user_id = o.u;
  if not found then return null; end if;
  if o.k = 3 then
    return ('ok', jsonb_build_object('success', true, 'transfer_id', o.id::text, 'balance', j.balance_after), null)::wallet_step;
  end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', o.id::text), null)::wallet_step;
end
$$;

create function wallet_replay_accept(o wallet_op) returns wallet_step
language sql stable as $$
  select ('accepted', jsonb_build_object('success', true, 'transfer_id', o.id::text, 'status', 'pending'), null)::wallet_step
   where exists (select 1 from transfers where id = o.id)
$$;

-- A batch's journal rows are written in one insert (wallet_flush) when the batch ends,
-- or earlier, before an operation that reads the journal (wallet_reads_journal), so
-- that it sees the rows of the operations before it in the batch.
create function wallet_reads_journal(p_kind smallint) returns boolean
language sql immutable as $$ select false $$;

create function wallet_flush(p_rows journal[]) returns void
language sql as $$
  insert into journal select (r).* from unnest(p_rows) r
$$;

-- Tells every listening process which wallets changed (LISTEN wallet_changes).
-- Delivered only at commit, whoever called. Payload: '1' on the last chunk (else
-- '0'), the caller's token, a space, then user,version,user,version...; at most 200
-- pairs a notification (a payload must stay under 8000 bytes). A token without
-- changes still sends its last chunk: the writer waiting for it learns its batch
-- committed.
create function wallet_notify(p_rows journal[], p_token text) returns void
language plpgsql as $$
declare
  v_pairs bigint[];
  n integer;
  i integer := 0;
begin
  if cardinality(p_rows) = 0 and p_token is null then return; end if;
  v_pairs := array(select x from unnest(p_rows) r, lateral (values (r.user_id), (r.seq)) v(x));
  n := cardinality(v_pairs);
  loop
    perform pg_notify('wallet_changes', (case when i + 400 >= n then '1' else '0' end) || coalesce(p_token, '')
                      || ' ' || array_to_string(v_pairs[i + 1 : i + 400], ','));
    i := i + 400;
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

-- Every wallet a batch touches (later migrations add the wallets behind holds).
create function wallet_batch_users(p_ops wallet_op[]) returns bigint[]
language sql stable as $$
  select array(select distinct v.id from unnest(p_ops) x, unnest(array[x.u, x.c]) v(id) where v.id is not null)
$$;

-- One operation, by kind (later migrations add kinds): applied, or with p_replay its
-- stored answer if it was applied before (null if not).
create function wallet_dispatch(o wallet_op, p_replay boolean) returns wallet_step
language plpgsql as $$
begin
  case o.k
    when 1 then return case when p_replay then wallet_replay_journal(o) else wallet_op_deposit(o.id, o.u, o.a) end;
    when 2 then return case when p_replay then wallet_replay_journal(o) else wallet_op_withdraw(o.id, o.u, o.a) end;
    when 3 then return case when p_replay then wallet_replay_journal(o) else wallet_op_transfer(o.id, o.u, o.c, o.a) end;
    when 4 then return case when p_replay then wallet_replay_accept(o) else wallet_op_accept(o.id, o.u, o.c, o.a) end;
    else raise exception 'wallet_apply: unknown operation kind %', o.k;
  end case;
end
$$;

-- Applies a batch of operations in order, in one transaction: the only way money
-- moves for a request. p_ops is a JSON array of wallet_op:
--   {"k": kind, "id": operation id, "u": acting user, "c": counterparty, "a": amount,
--    "key": Idempotency-Key, "h": request hash}
-- kind: 1 deposit, 2 withdraw, 3 transfer (c is the destination), 4 transfer v2 acceptance.
-- p_retry: the batch may have been applied already (an earlier attempt's outcome is
-- unknown): answer an operation found by its id (or key) from what it stored.
-- p_token: sent back on wallet_changes at commit (see wallet_notify).
-- One row per operation: its outcome, the answer's data, and whether that answer is
-- the stored one of another request with the same Idempotency-Key.
create function wallet_apply(p_ops jsonb, p_retry boolean default false, p_token text default null)
returns table (ord integer, outcome text, result jsonb, replayed boolean)
language plpgsql as $$
declare
  v_ops wallet_op[] := array(select x from jsonb_populate_recordset(null::wallet_op, p_ops) x);
  v_actors bigint[] := array(select distinct x.u from unnest(v_ops) x where x.u is not null order by 1);
  v_lock record;
  v_rows journal[];
  v_flushed integer := 0;
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
    if s.rows is not null then v_rows := v_rows || s.rows; end if;
    if o.key is not null then
      update idempotency_keys k set outcome = s.outcome, result = s.result
       where k.user_id = coalesce(o.u, 0) and k.key = o.key;
    end if;
    return next;
  end loop;
  if cardinality(v_rows) > v_flushed then perform wallet_flush(v_rows[v_flushed + 1 :]); end if;
  perform wallet_notify(v_rows, p_token);
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
    if s.outcome = 'ok' then
      v_rows := v_rows || s.rows;
    else
      v_rows := v_rows || wallet_record(t.from_user_id, 5::smallint, null, 0::smallint, t.amount, t.id,
                                        t.to_user_id, t.id, p_reason => s.outcome);
    end if;
    update transfers c set status = case when s.outcome = 'ok' then 'completed' else 'failed' end,
                           failure_reason = nullif(s.outcome, 'ok'),
                           attempts = c.attempts + 1, updated_at = now(), completed_at = now()
     where c.id = t.id;
    id := t.id;
    outcome := s.outcome;
    return next;
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_notify(v_rows, null);
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
