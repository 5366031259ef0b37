-- 017: a group-commit batch of plain transfers and deposits in one statement (issue 28).
-- The server's batches are small (about 8 operations at 32 clients), and per operation
-- wallet_apply paid a PL/pgSQL call of wallet_op_transfer or wallet_op_deposit, its
-- statements' executor starts, 19-column records built field by field and copied into
-- the batch's buffer, and its answer built row by row. When every operation of a batch
-- is a transfer or a deposit with nothing to tag, judge or replay, the whole batch is now
-- judged, applied and journalled by one statement (wallet_transfers_at_once), with the
-- conditions of wallet_op_transfer and wallet_op_deposit for each of them in the batch's
-- order. If any one of them would not pass them all (a refusal to explain, a wallet to
-- open, a user with a monitor), that statement changes nothing and the batch goes
-- through the operations one by one as before: the same answers, rows, sequences and
-- change-log row either way (bench/sql-differential.mjs compares 016 and 017 call by
-- call; test/transfers-at-once.test.ts compares the two paths). Functions only; no table
-- changes.

-- The batch's operations in order, as if one by one: each row (a transfer's debit, then
-- its credit; a deposit's credit) is judged against its wallet as the earlier rows of the
-- batch left it (the balance, the day's and month's debits), so a user may appear in
-- several of them. If every row passes, every later one would have passed one by one
-- too, and the batch applies: each wallet moved once by its total, each user's sequence
-- by its rows, the rows journalled with the balances and sequences they would have had.
-- If one does not, nothing changes and no row is returned. Under the users' locks
-- (wallet_lock) the rows read are the rows written.
create or replace function wallet_transfers_at_once(p_ops wallet_op[])
returns table (ord integer, outcome text, result jsonb, replayed boolean, changes bigint[])
language plpgsql
-- a batch touches a handful of wallets: look each one up by its key. Left to itself the
-- planner hashes whole tables when they are small (a benchmark's thousand users: every
-- call read every user and every wallet), and a plan made for each call's values costs
-- more than the call
set enable_hashjoin = off set enable_mergejoin = off set plan_cache_mode = force_generic_plan
as $$
#variable_conflict use_column
declare
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
begin
  return query
  with o as (
    select x.n::integer as n, x.k, x.id, x.u, x.c, x.cur, x.a
      from unnest(p_ops) with ordinality
           as x(k, id, u, c, a, key, h, r, e, actor, reason, cur, cur_to, shift, ref, meta, ev, ops, n)
  ),
  -- the rows wallet_record would make: a transfer's debit, then its credit; a deposit's credit
  r as (
    select o.n, o.k, o.id, o.u as user_id, o.c as counterparty, o.cur as currency, o.a, true as payer, -o.a as delta
      from o where o.k = 3
    union all
    select o.n, o.k, o.id, o.c, o.u, o.cur, o.a, false, o.a from o where o.k = 3
    union all
    select o.n, o.k, o.id, o.u, null, o.cur, o.a, false, o.a from o where o.k = 1
  ),
  -- what the earlier rows of the batch did to each row's wallet; its place in its user's sequence
  rs as (
    select r.*, coalesce(sum(r.delta) over earlier, 0) as prior,
           coalesce(sum(case when r.payer then r.a else 0 end) over earlier, 0) as prior_debits,
           count(*) filter (where r.payer) over earlier as prior_debit_count,
           row_number() over (partition by r.user_id order by r.n) as place
      from r
    window earlier as (partition by r.user_id, r.currency order by r.n rows between unbounded preceding and 1 preceding)
  ),
  -- each row on its wallet as the batch leaves it so far: wallet_op_transfer's conditions
  -- (the receiver's, a deposit's too: wallet_credit_refused's limits, wallet_record's
  -- credit; the payer's: wallet_record's counted debit), the balances and the sequence
  -- its journal row takes
  j as (
    select rs.n, rs.k, rs.id, rs.user_id, rs.counterparty, rs.currency, rs.a, rs.payer,
           w.balance + rs.prior + rs.delta as balance_after,
           w.balance + rs.prior + rs.delta + w.credit_limit - w.held as available_after,
           u.seq + rs.place as seq,
           coalesce(u.monitors = 0 and case when rs.payer then
               w.balance + rs.prior + w.credit_limit - w.held >= rs.a and not u.frozen
               and coalesce(rs.a <= l.max_debit, true)
               and coalesce((case when w.day_on = v_today then w.day_amount else 0 end) + rs.prior_debits + rs.a
                            <= l.daily_debit_amount, true)
               and coalesce((case when w.day_on = v_today then w.day_count else 0 end) + rs.prior_debit_count + 1
                            <= l.daily_debit_count, true)
               and coalesce((case when w.month_on = v_month then w.month_amount else 0 end) + rs.prior_debits + rs.a
                            <= l.monthly_debit_amount, true)
             else
               w.balance + rs.prior <= 9007199254740991 - rs.a
               and coalesce(w.balance + rs.prior + rs.a <= l.max_balance, true)
             end, false) as passes
      from rs
      join wallets w on w.user_id = rs.user_id and w.currency = rs.currency
      join users u on u.user_id = rs.user_id
      left join tier_limits l on l.tier = u.tier and l.currency = rs.currency
  ),
  go as (select count(*) filter (where j.passes) = (select count(*) from r) as all_pass from j),
  -- each wallet moved once: its total, its version by its rows, its debits counted
  t as (
    select r.user_id, r.currency, sum(r.delta) as delta, count(*) as n_rows,
           sum(case when r.payer then r.a else 0 end) as debits, count(*) filter (where r.payer) as debit_count
      from r where (select all_pass from go)
     group by r.user_id, r.currency
  ),
  moved as (
    update wallets w
       set balance = w.balance + t.delta, version = w.version + t.n_rows, updated_at = now(),
           day_on = case when t.debit_count > 0 then v_today else w.day_on end,
           day_amount = case when t.debit_count > 0
                             then (case when w.day_on = v_today then w.day_amount else 0 end) + t.debits
                             else w.day_amount end,
           day_count = case when t.debit_count > 0
                            then (case when w.day_on = v_today then w.day_count else 0 end) + t.debit_count
                            else w.day_count end,
           month_on = case when t.debit_count > 0 then v_month else w.month_on end,
           month_amount = case when t.debit_count > 0
                               then (case when w.month_on = v_month then w.month_amount else 0 end) + t.debits
                               else w.month_amount end
      from t
     where w.user_id = t.user_id and w.currency = t.currency
    returning 1
  ),
  numbered as (
    update users x set seq = x.seq + c.n_rows
      from (select r.user_id, count(*) as n_rows from r where (select all_pass from go) group by r.user_id) c
     where x.user_id = c.user_id
    returning 1
  ),
  journalled as (
    insert into journal (user_id, seq, id, event, kind, direction, amount, balance_after, available_after,
                         counterparty_user_id, transfer_id, created_at, currency)
    select j.user_id, j.seq, j.id, case when j.k = 1 then 1 when j.payer then 4 else 3 end, j.k,
           case when j.payer then -1 else 1 end, j.a, j.balance_after, j.available_after, j.counterparty,
           case when j.k = 3 then j.id end, clock_timestamp(), j.currency
      from j where (select all_pass from go)
  ),
  -- wallet_log_changes's row: (user, sequence) pairs in the order of the rows
  logged as (
    insert into wallet_changes (changes, accepted)
    select array_agg(v.x order by j.n, not j.payer, v.i), 0
      from j, lateral (values (1, j.user_id), (2, j.seq)) v(i, x)
     where (select all_pass from go)
    having count(*) > 0
  )
  select j.n, 'ok'::text,
         case when min(j.k) = 1
              then jsonb_build_object('balance', min(j.balance_after), 'transaction_id', min(j.id)::text,
                                      'currency', min(j.currency))
              else jsonb_build_object('success', true, 'transfer_id', min(j.id)::text,
                                      'balance', min(j.balance_after) filter (where j.payer),
                                      'currency', min(j.currency)) end,
         false,
         case when min(j.k) = 1
              then array[min(j.user_id), min(j.seq)]
              else array[min(j.user_id) filter (where j.payer), min(j.seq) filter (where j.payer),
                         min(j.user_id) filter (where not j.payer), min(j.seq) filter (where not j.payer)] end
    from j
   where (select all_pass from go)
   group by j.n
   order by j.n;
end
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

  -- a batch of plain transfers and deposits (no key, tags or version; not a retry; no
  -- expired hold released above): all of them in one statement, or, when any one of them
  -- would take the steps (a refusal, a wallet to open, a monitor), none of them that way
  -- and each as below
  if not p_retry and cardinality(v_rows) = 0
     and not exists (select 1 from unnest(v_ops) x
                      where x.k not in (1, 3) or x.key is not null or x.ev is not null or x.ref is not null
                         or x.meta is not null or x.u is null or x.a is null or x.a <= 0 or x.cur is null
                         or x.k = 3 and (x.c is null or x.u = x.c)) then
    return query select * from wallet_transfers_at_once(v_ops);
    if found then return; end if;
  end if;

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
