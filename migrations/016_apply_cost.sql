-- 016: less PostgreSQL work per operation in wallet_apply (issue 28). Same results, same
-- refusals, same journal rows, events, change-log rows and monitors; only functions are
-- redefined, no table changes. What a transfer cost is mostly the number of statements
-- it ran (each one's executor start, its tables' CHECK constraints read again, the
-- monitor trigger's condition): 012 ran six a transfer, one of them planned again each
-- time; this runs one in the common case (bench/sql-levels.mjs, bench/README.md).
--
-- wallet_apply: an operation with nothing to tag (no reference, metadata or expected
-- version; not a capture or void, which take the hold's tags) goes straight to its
-- function (a transfer to wallet_op_transfer) instead of through wallet_apply_one and
-- wallet_dispatch; the change list and the buffered rows are built by appending in
-- place, not by a query per operation and a copy of the buffer per operation.
--
-- wallet_record: a plain credit (no hold, no expiry) is its own UPDATE with nothing to
-- decide from the parameters. The shared statement branches on them, so PostgreSQL
-- judged a plan for each call's values cheaper than its generic plan and planned that
-- statement again at every credit. (Moving the user's sequence into the wallet's
-- statement, with a WITH, measured no better here, so it stays a statement of its own.)
--
-- wallet_op_transfer: both wallets and both sequences in one statement when nothing
-- needs the steps one by one (see the function).

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
  j journal;
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
    if o.k = 14 then
      s := wallet_apply_batch(o);
    elsif o.ev is not null or o.ref is not null or o.meta is not null or o.k in (6, 7) then
      -- a version to judge, tags to set, or a hold's tags to carry: wallet_apply_one
      s := wallet_apply_one(o, null);
    elsif o.k = 3 then
      -- what wallet_apply_one does for an operation with nothing of those: its function
      s := wallet_op_transfer(o.id, o.u, o.c, o.cur, o.a);
    else
      s := wallet_dispatch(o, false);
    end if;
    if not wallet_known_outcome(s.outcome) then
      raise exception 'wallet_apply: operation kind % returned unknown outcome %', o.k, s.outcome;
    end if;
    outcome := s.outcome;
    result := s.result;
    if s.rows is not null then
      -- appended in place (a query, or v_rows || s.rows, would copy per operation)
      changes := '{}';
      foreach j in array s.rows loop
        v_rows := v_rows || j;
        changes := changes || j.user_id || j.seq;
      end loop;
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
    elsif p_direction > 0 and p_held = 0 and p_expires is null then
      -- a plain credit (deposit, transfer in, capture in, exchange in): the statement below
      -- with its branches decided, so that its one plan serves every call
      update wallets w set balance = w.balance + p_amount, version = w.version + 1, updated_at = now()
       where w.user_id = p_user and w.currency = p_currency and w.balance <= 9007199254740991 - p_amount
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

-- wallet_op_transfer: when both wallets exist and neither user has a monitor, the
-- receiver's check, the counted debit and the credit, with both users' sequences, are
-- one statement whose conditions are wallet_record's (and the receiver check's above
-- it), each on its own row; both rows are updated or neither. Under the users' locks
-- (wallet_lock: every writer of wallets holds them) the rows read are the rows written.
-- When it updates nothing, the steps run one by one as before and say why (the same
-- refusal, in the same order), or open the receiver's wallet in this currency.
create or replace function wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_currency text,
                                              p_amount bigint)
returns wallet_step language plpgsql as $$
declare
  a journal;
  b journal;
  v_balance bigint;
  v_max bigint;
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  with ok as (
    select from wallets pw join users pu on pu.user_id = pw.user_id
                left join tier_limits pl on pl.tier = pu.tier and pl.currency = p_currency,
                wallets rw join users ru on ru.user_id = rw.user_id
                left join tier_limits rl on rl.tier = ru.tier and rl.currency = p_currency
     where pw.user_id = p_from and pw.currency = p_currency and rw.user_id = p_to and rw.currency = p_currency
       and pu.monitors = 0 and ru.monitors = 0
       -- the receiver (wallet_credit_refused's limits, wallet_record's credit)
       and rw.balance <= 9007199254740991 - p_amount and coalesce(rw.balance + p_amount <= rl.max_balance, true)
       -- the payer (wallet_record's counted debit)
       and pw.balance + pw.credit_limit - pw.held >= p_amount and not pu.frozen
       and coalesce(p_amount <= pl.max_debit, true)
       and coalesce((case when pw.day_on = v_today then pw.day_amount else 0 end) + p_amount
                    <= pl.daily_debit_amount, true)
       and coalesce((case when pw.day_on = v_today then pw.day_count else 0 end) + 1 <= pl.daily_debit_count, true)
       and coalesce((case when pw.month_on = v_month then pw.month_amount else 0 end) + p_amount
                    <= pl.monthly_debit_amount, true)),
  d as (
    update wallets w
       set balance = w.balance + case when w.user_id = p_from then -p_amount else p_amount end,
           version = w.version + 1, updated_at = now(),
           day_on = case when w.user_id = p_from then v_today else w.day_on end,
           day_amount = case when w.user_id = p_from
                             then (case when w.day_on = v_today then w.day_amount else 0 end) + p_amount
                             else w.day_amount end,
           day_count = case when w.user_id = p_from
                            then (case when w.day_on = v_today then w.day_count else 0 end) + 1
                            else w.day_count end,
           month_on = case when w.user_id = p_from then v_month else w.month_on end,
           month_amount = case when w.user_id = p_from
                               then (case when w.month_on = v_month then w.month_amount else 0 end) + p_amount
                               else w.month_amount end
     where w.user_id in (p_from, p_to) and w.currency = p_currency and exists (select from ok)
    returning w.user_id, w.balance, w.balance + w.credit_limit - w.held as available),
  s as (
    update users x set seq = x.seq + 1
     where x.user_id in (p_from, p_to) and exists (select from d)
    returning x.user_id, x.seq)
  select dp.balance, dp.available, sp.seq, dr.balance, dr.available, sr.seq
    into a.balance_after, a.available_after, a.seq, b.balance_after, b.available_after, b.seq
    from d dp join s sp on sp.user_id = dp.user_id, d dr join s sr on sr.user_id = dr.user_id
   where dp.user_id = p_from and dr.user_id = p_to;
  if found then
    -- the rows wallet_record makes for the debit, then the credit
    a.user_id := p_from; a.currency := p_currency; a.id := p_id; a.event := 4; a.kind := 3; a.direction := -1;
    a.amount := p_amount; a.counterparty_user_id := p_to; a.transfer_id := p_id; a.created_at := clock_timestamp();
    b.user_id := p_to; b.currency := p_currency; b.id := p_id; b.event := 3; b.kind := 3; b.direction := 1;
    b.amount := p_amount; b.counterparty_user_id := p_from; b.transfer_id := p_id; b.created_at := clock_timestamp();
  else
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
    b := wallet_record(p_to, p_currency, 3::smallint, 3::smallint, 1::smallint, p_amount, p_id, p_from, p_id);
  end if;
  return ('ok', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'balance', a.balance_after,
                                   'currency', p_currency),
          array[a, b])::wallet_step;
end
$$;
