-- 001_init: wallets, the append-only ledger, transfers, idempotency keys, and the
-- functions that move money. Every function takes arrays so that one call (one round
-- trip, one commit) can carry a whole batch; a single request is a batch of one.

-- Time-ordered 64-bit ids made inside PostgreSQL: 41 bits of milliseconds since
-- 2025-01-01, 22 bits of a shared sequence. Every instance draws from the same
-- sequence, so ids are unique across any number of API processes without leasing
-- node numbers; two ids collide only if 4,194,304 are drawn in one millisecond.
create sequence wallet_id_seq cache 1;

create function wallet_next_id() returns bigint
language sql volatile as $$
  select ((floor(extract(epoch from clock_timestamp()) * 1000)::bigint - 1735689600000) << 22)
         | (nextval('wallet_id_seq') % 4194304)
$$;

create table wallets (
  user_id    bigint primary key check (user_id > 0),
  balance    bigint not null default 0 check (balance >= 0 and balance <= 9007199254740991),
  -- bumped by every change; the cache keys balance and history by it
  version    bigint not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

-- Append-only: nothing updates or deletes an entry.
create table entries (
  id                   bigint primary key,
  user_id              bigint not null references wallets (user_id),
  type                 smallint not null check (type in (1, 2, 3)), -- deposit, withdraw, transfer
  direction            smallint not null check (direction in (-1, 1)), -- out, in
  amount               bigint not null check (amount > 0),
  balance_after        bigint not null check (balance_after >= 0),
  counterparty_user_id bigint,
  transfer_id          bigint,
  created_at           timestamptz not null default now()
);
create index entries_user_id_idx on entries (user_id, id desc);
create index entries_user_type_id_idx on entries (user_id, type, id desc);

create table transfers (
  id              bigint primary key,
  from_user_id    bigint not null,
  to_user_id      bigint not null,
  amount          bigint not null check (amount > 0),
  async           boolean not null,
  status          text not null check (status in ('pending', 'completed', 'failed', 'dead')),
  failure_reason  text,
  attempts        integer not null default 0,
  next_attempt_at timestamptz not null default now(),
  last_error      text,
  created_at      timestamptz not null default now(),
  updated_at      timestamptz not null default now(),
  completed_at    timestamptz
);
-- the workers' queue: only pending rows, in acceptance order
create index transfers_pending_idx on transfers (id) where status = 'pending';
-- per-sender ordering check: is an older transfer of this sender still pending?
create index transfers_pending_sender_idx on transfers (from_user_id, id) where status = 'pending';
create index transfers_status_idx on transfers (status, id);

create table idempotency_keys (
  user_id      bigint not null,
  key          text not null,
  request_hash text not null,
  outcome      text,
  result       jsonb,
  created_at   timestamptz not null default now(),
  primary key (user_id, key)
);
create index idempotency_keys_created_at_idx on idempotency_keys (created_at);

-- Moves money between two locked wallets. The caller holds both row locks.
-- Returns the outcome as data: a refused transfer costs no rollback.
create function wallet_move(p_from bigint, p_to bigint, p_amount bigint, p_transfer_id bigint,
                            out outcome text, out from_balance bigint, out from_version bigint,
                            out to_version bigint)
language plpgsql as $$
declare
  v_from wallets;
  v_to wallets;
begin
  if p_from = p_to then outcome := 'same_wallet'; return; end if;
  select * into v_to from wallets where user_id = p_to;
  if not found then outcome := 'wallet_not_found'; return; end if;
  select * into v_from from wallets where user_id = p_from;
  if not found then outcome := 'wallet_not_found'; return; end if;
  if v_from.balance < p_amount then outcome := 'insufficient_funds'; return; end if;
  if v_to.balance > 9007199254740991 - p_amount then outcome := 'balance_limit_exceeded'; return; end if;

  update wallets set balance = balance - p_amount, version = version + 1, updated_at = now()
   where user_id = p_from returning balance, version into from_balance, from_version;
  update wallets set balance = balance + p_amount, version = version + 1, updated_at = now()
   where user_id = p_to returning version into to_version;
  insert into entries (id, user_id, type, direction, amount, balance_after, counterparty_user_id, transfer_id)
  values (wallet_next_id(), p_from, 3, -1, p_amount, from_balance, p_to, p_transfer_id),
         (wallet_next_id(), p_to, 3, 1, p_amount, v_to.balance + p_amount, p_from, p_transfer_id);
  outcome := 'ok';
end
$$;

-- Applies a batch of synchronous operations in order, in the caller's transaction.
-- kind: 1 deposit, 2 withdraw, 3 transfer (p_counterparty is the destination).
-- p_key / p_hash: the Idempotency-Key and a hash of the request, or null.
-- One row per operation: its outcome ('ok', a refusal code, 'idempotency_key_reused'),
-- the response data, whether it is a replay of a stored answer, and the new versions
-- of the wallets it changed (for the cache).
create function wallet_post(p_kind smallint[], p_user bigint[], p_counterparty bigint[],
                            p_amount bigint[], p_key text[], p_hash text[])
returns table (ord integer, outcome text, result jsonb, replayed boolean,
               user_version bigint, counterparty_version bigint)
language plpgsql as $$
declare
  i integer;
  v_hash text;
  v_balance bigint;
  v_id bigint;
  v_move record;
begin
  -- The acting user's wallet opens on first use. Inserted and then locked in user-id
  -- order, so concurrent batches wait for each other instead of deadlocking.
  insert into wallets (user_id) select distinct u from unnest(p_user) u order by u on conflict do nothing;
  perform 1 from wallets where user_id = any (p_user || p_counterparty) order by user_id for update;

  for i in 1 .. coalesce(array_length(p_kind, 1), 0) loop
    ord := i; outcome := null; result := null; replayed := false;
    user_version := null; counterparty_version := null;

    if p_key[i] is not null then
      -- A concurrent request holding the same key holds this user's wallet lock too,
      -- which we took above, so it has committed or rolled back by now.
      insert into idempotency_keys (user_id, key, request_hash) values (p_user[i], p_key[i], p_hash[i])
      on conflict do nothing;
      if not found then
        select k.request_hash, k.outcome, k.result into v_hash, outcome, result
          from idempotency_keys k where k.user_id = p_user[i] and k.key = p_key[i];
        if v_hash <> p_hash[i] then
          outcome := 'idempotency_key_reused'; result := null;
        else
          replayed := true;
        end if;
        return next;
        continue;
      end if;
    end if;

    if p_kind[i] = 1 then
      update wallets set balance = balance + p_amount[i], version = version + 1, updated_at = now()
       where user_id = p_user[i] and balance <= 9007199254740991 - p_amount[i]
       returning balance, version into v_balance, user_version;
      if found then
        v_id := wallet_next_id();
        insert into entries (id, user_id, type, direction, amount, balance_after)
        values (v_id, p_user[i], 1, 1, p_amount[i], v_balance);
        outcome := 'ok';
        result := jsonb_build_object('balance', v_balance, 'transaction_id', v_id::text);
      else
        outcome := 'balance_limit_exceeded';
      end if;
    elsif p_kind[i] = 2 then
      update wallets set balance = balance - p_amount[i], version = version + 1, updated_at = now()
       where user_id = p_user[i] and balance >= p_amount[i]
       returning balance, version into v_balance, user_version;
      if found then
        v_id := wallet_next_id();
        insert into entries (id, user_id, type, direction, amount, balance_after)
        values (v_id, p_user[i], 2, -1, p_amount[i], v_balance);
        outcome := 'ok';
        result := jsonb_build_object('balance', v_balance, 'transaction_id', v_id::text);
      else
        outcome := 'insufficient_funds';
      end if;
    else
      v_id := wallet_next_id();
      select * into v_move from wallet_move(p_user[i], p_counterparty[i], p_amount[i], v_id);
      outcome := v_move.outcome;
      if outcome = 'ok' then
        insert into transfers (id, from_user_id, to_user_id, amount, async, status, attempts, completed_at)
        values (v_id, p_user[i], p_counterparty[i], p_amount[i], false, 'completed', 1, now());
        user_version := v_move.from_version;
        counterparty_version := v_move.to_version;
        result := jsonb_build_object('success', true, 'transfer_id', v_id::text, 'balance', v_move.from_balance);
      end if;
    end if;

    if p_key[i] is not null then
      update idempotency_keys set outcome = wallet_post.outcome, result = wallet_post.result
       where user_id = p_user[i] and key = p_key[i];
    end if;
    return next;
  end loop;
end
$$;

-- Accepts a batch of asynchronous transfers: checks what can be known now (the
-- destination exists, not to oneself), records them pending, stores idempotent answers.
create function wallet_accept_transfers(p_user bigint[], p_to bigint[], p_amount bigint[],
                                        p_key text[], p_hash text[])
returns table (ord integer, outcome text, result jsonb, replayed boolean)
language plpgsql as $$
declare
  i integer;
  v_hash text;
  v_id bigint;
begin
  insert into wallets (user_id) select distinct u from unnest(p_user) u order by u on conflict do nothing;
  -- serialises duplicates of one key (see wallet_post); shared lock: acceptance does not
  -- change balances, so concurrent acceptances from one user need not wait for each other
  perform 1 from wallets where user_id = any (p_user) order by user_id for share;

  for i in 1 .. coalesce(array_length(p_user, 1), 0) loop
    ord := i; outcome := null; result := null; replayed := false;
    if p_key[i] is not null then
      insert into idempotency_keys (user_id, key, request_hash) values (p_user[i], p_key[i], p_hash[i])
      on conflict do nothing;
      if not found then
        select k.request_hash, k.outcome, k.result into v_hash, outcome, result
          from idempotency_keys k where k.user_id = p_user[i] and k.key = p_key[i];
        if v_hash <> p_hash[i] then
          outcome := 'idempotency_key_reused'; result := null;
        else
          replayed := true;
        end if;
        return next;
        continue;
      end if;
    end if;

    if p_user[i] = p_to[i] then
      outcome := 'same_wallet';
    elsif not exists (select 1 from wallets where user_id = p_to[i]) then
      outcome := 'wallet_not_found';
    else
      v_id := wallet_next_id();
      insert into transfers (id, from_user_id, to_user_id, amount, async, status)
      values (v_id, p_user[i], p_to[i], p_amount[i], true, 'pending');
      outcome := 'accepted';
      -- delivered at commit: wakes the workers (LISTEN wallet_transfers)
      perform pg_notify('wallet_transfers', '');
      result := jsonb_build_object('success', true, 'transfer_id', v_id::text, 'status', 'pending');
    end if;

    if p_key[i] is not null then
      update idempotency_keys set outcome = wallet_accept_transfers.outcome,
                                  result = wallet_accept_transfers.result
       where user_id = p_user[i] and key = p_key[i];
    end if;
    return next;
  end loop;
end
$$;

-- A worker's claim, in the caller's transaction: up to p_limit due pending transfers
-- in acceptance order, skipping rows another worker holds, and keeping only the head
-- of each sender's queue: a transfer whose sender has an older one still pending
-- outside this claim (another worker holds it, or it waits for a retry) stays pending
-- and is claimed again later. So a sender's transfers apply in acceptance order.
create function wallet_claim_transfers(p_limit integer) returns bigint[]
language plpgsql as $$
declare
  v_ids bigint[];
begin
  select array_agg(c.id order by c.id) into v_ids from (
    select p.id from transfers p
     where p.status = 'pending' and p.next_attempt_at <= now()
     order by p.id
     limit p_limit
     for update skip locked
  ) c;
  if v_ids is null then return '{}'; end if;
  select coalesce(array_agg(c.id order by c.id), '{}') into v_ids from transfers c
   where c.id = any (v_ids)
     and not exists (select 1 from transfers o
                      where o.status = 'pending' and o.from_user_id = c.from_user_id
                        and o.id < c.id and o.id <> all (v_ids));
  return v_ids;
end
$$;

-- Applies claimed transfers in id order and marks each completed or failed, in the
-- caller's transaction: claiming, applying and marking commit together, so a crash
-- rolls all of it back and another worker takes it; each applies exactly once.
create function wallet_apply_transfers(p_ids bigint[])
returns table (id bigint, outcome text, from_user_id bigint, to_user_id bigint,
               from_version bigint, to_version bigint)
language plpgsql as $$
declare
  t record;
  v_move record;
begin
  -- lock every wallet of the batch in user-id order first: batches never deadlock
  perform 1 from wallets w
   where w.user_id in (select c.from_user_id from transfers c where c.id = any (p_ids)
                       union select c.to_user_id from transfers c where c.id = any (p_ids))
   order by w.user_id for update;

  -- row locks make the apply safe on its own: a transfer another transaction has
  -- meanwhile applied is re-checked, found no longer pending, and skipped
  for t in select c.id, c.from_user_id, c.to_user_id, c.amount from transfers c
            where c.id = any (p_ids) and c.status = 'pending' order by c.id for update loop
    select * into v_move from wallet_move(t.from_user_id, t.to_user_id, t.amount, t.id);
    update transfers c set status = case when v_move.outcome = 'ok' then 'completed' else 'failed' end,
                           failure_reason = nullif(v_move.outcome, 'ok'),
                           attempts = c.attempts + 1, updated_at = now(), completed_at = now()
     where c.id = t.id;
    id := t.id; outcome := v_move.outcome; from_user_id := t.from_user_id; to_user_id := t.to_user_id;
    from_version := v_move.from_version; to_version := v_move.to_version;
    return next;
  end loop;
end
$$;

-- After a transient fault: count the attempt, and either schedule the next one after
-- an exponential backoff with jitter (base * 2^attempts, capped, times 0.5..1) or,
-- after the last attempt, park the transfer as dead-lettered.
create function wallet_defer_transfers(p_ids bigint[], p_error text, p_max_attempts integer,
                                       p_base_ms double precision, p_cap_ms double precision)
returns table (id bigint, status text, attempts integer)
language sql as $$
  update transfers t
     set attempts = t.attempts + 1,
         status = case when t.attempts + 1 >= p_max_attempts then 'dead' else 'pending' end,
         next_attempt_at = now() + make_interval(
           secs => least(p_cap_ms, p_base_ms * 2 ^ t.attempts) * (0.5 + random() / 2) / 1000.0),
         last_error = left(p_error, 500),
         updated_at = now()
   where t.id = any (p_ids) and t.status = 'pending'
  returning t.id, t.status, t.attempts
$$;

-- A worker's whole step in one call (one round trip, one transaction): claim, apply,
-- and mark. If applying fails, the block's implicit savepoint undoes only the apply:
-- the claim's row locks are still held, so the failed attempt is counted here and no
-- other worker can take the transfer in between. A failed batch is applied again one
-- transfer at a time, so one transfer's fault costs the others nothing. A lost
-- connection rolls back the whole call: nothing is counted, everything stays pending.
-- outcome: 'ok' or a refusal code (applied), 'retry' or 'dead' (deferred, with error).
create function wallet_process_transfers(p_limit integer, p_max_attempts integer,
                                         p_base_ms double precision, p_cap_ms double precision)
returns table (id bigint, outcome text, from_user_id bigint, to_user_id bigint,
               from_version bigint, to_version bigint, error text, attempts integer)
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
          return query select d.id, d.status, null::bigint, null::bigint, null::bigint, null::bigint, sqlerrm, d.attempts
                         from wallet_defer_transfers(array[v_id], sqlerrm, p_max_attempts, p_base_ms, p_cap_ms) d;
        end;
      end loop;
    else
      return query select d.id, d.status, null::bigint, null::bigint, null::bigint, null::bigint, v_err, d.attempts
                     from wallet_defer_transfers(v_ids, v_err, p_max_attempts, p_base_ms, p_cap_ms) d;
    end if;
  end;
  for v_done in select * from jsonb_to_recordset(v_applied) as x(id bigint, outcome text, from_user_id bigint,
                       to_user_id bigint, from_version bigint, to_version bigint) loop
    id := v_done.id; outcome := v_done.outcome; from_user_id := v_done.from_user_id;
    to_user_id := v_done.to_user_id; from_version := v_done.from_version; to_version := v_done.to_version;
    error := null; attempts := null;
    return next;
  end loop;
end
$$;

-- migrate:down
drop function wallet_process_transfers(integer, integer, double precision, double precision);
drop function wallet_defer_transfers(bigint[], text, integer, double precision, double precision);
drop function wallet_apply_transfers(bigint[]);
drop function wallet_claim_transfers(integer);
drop function wallet_accept_transfers(bigint[], bigint[], bigint[], text[], text[]);
drop function wallet_post(smallint[], bigint[], bigint[], bigint[], text[], text[]);
drop function wallet_move(bigint, bigint, bigint, bigint);
drop table idempotency_keys;
drop table transfers;
drop table entries;
drop table wallets;
drop function wallet_next_id();
drop sequence wallet_id_seq;
