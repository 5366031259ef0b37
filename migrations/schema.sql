-- The schema after every migration, functions included: generated, do not edit.
-- `npm run schema:dump` writes it from a freshly migrated PostgreSQL (pg_dump -s);
-- test/schema.test.ts fails when it differs from a fresh migration.

--
-- PostgreSQL database dump
--

--
-- Name: wallet_op; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.wallet_op AS (
	k smallint,
	id bigint,
	u bigint,
	c bigint,
	a bigint,
	key text,
	h text,
	r bigint,
	e integer,
	actor text,
	reason text,
	cur text,
	cur_to text,
	shift integer,
	ref text,
	meta jsonb,
	ev bigint,
	ops jsonb
);

--
-- Name: journal; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.journal (
    user_id bigint NOT NULL,
    seq bigint NOT NULL,
    id bigint NOT NULL,
    event smallint NOT NULL,
    kind smallint,
    direction smallint NOT NULL,
    amount bigint NOT NULL,
    balance_after bigint NOT NULL,
    available_after bigint NOT NULL,
    counterparty_user_id bigint,
    transfer_id bigint,
    hold_id bigint,
    reverses bigint,
    reason text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    currency text NOT NULL,
    reference text,
    metadata jsonb,
    batch_id bigint,
    CONSTRAINT journal_amount_check CHECK (((amount > 0) OR ((kind IS NULL) AND (amount = 0)))),
    CONSTRAINT journal_balance_after_check CHECK ((balance_after >= '-9007199254740991'::bigint)),
    CONSTRAINT journal_check CHECK (((kind IS NULL) = (direction = 0))),
    CONSTRAINT journal_direction_check CHECK ((direction = ANY (ARRAY['-1'::integer, 0, 1]))),
    CONSTRAINT journal_kind_check CHECK (((kind >= 1) AND (kind <= 6))),
    CONSTRAINT journal_seq_check CHECK ((seq > 0))
);

--
-- Name: wallet_step; Type: TYPE; Schema: public; Owner: -
--

CREATE TYPE public.wallet_step AS (
	outcome text,
	result jsonb,
	rows public.journal[]
);

--
-- Name: wallet_adjustment_json(public.journal); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_adjustment_json(j public.journal) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select jsonb_build_object('transaction_id', j.id::text, 'user_id', j.user_id, 'currency', j.currency,
                            'amount', j.direction * j.amount, 'balance', j.balance_after,
                            'available_balance', j.available_after, 'reason', j.reason)
$$;

--
-- Name: wallet_apply(jsonb, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_apply(p_ops jsonb, p_retry boolean DEFAULT false) RETURNS TABLE(ord integer, outcome text, result jsonb, replayed boolean, changes bigint[])
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_apply_batch(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_apply_batch(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_apply_one(public.wallet_op, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_apply_one(o public.wallet_op, p_batch bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_apply_transfers(bigint[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_apply_transfers(p_ids bigint[]) RETURNS TABLE(id bigint, outcome text, changes bigint[])
    LANGUAGE plpgsql
    AS $$
declare
  t record;
  s wallet_step;
  v_rows journal[];
  v_ids bigint[];
  v_ops wallet_op[];
  v_plain boolean;
  v_done jsonb;
begin
  v_rows := (wallet_lock(array(
    select c.from_user_id from transfers c where c.id = any (p_ids)
    union select c.to_user_id from transfers c where c.id = any (p_ids)))).rows;
  if cardinality(v_rows) = 0 then
    -- the pending ones, locked in the loop's order; plain: nothing to tag
    select array_agg(p.id order by p.id),
           array_agg(row(3, p.id, p.from_user_id, p.to_user_id, p.amount, null, null, null, null, null, null,
                         p.currency, null, null, null, null, null, null)::wallet_op order by p.id),
           bool_and(p.reference is null and p.metadata is null and p.batch_id is null
                    and p.from_user_id <> p.to_user_id and p.amount > 0)
      into v_ids, v_ops, v_plain
      from (select c.id, c.from_user_id, c.to_user_id, c.currency, c.amount, c.reference, c.metadata, c.batch_id,
                   c.status
              from transfers c
             where c.id = any (p_ids) order by c.id offset 0 for update) p
     where p.status = 'pending';
    if v_plain then
      select jsonb_agg(jsonb_build_array(a.ord, a.changes) order by a.ord) into v_done
        from wallet_transfers_at_once(v_ops) a;
      if v_done is not null then
        update transfers c set status = 'completed', failure_reason = null, attempts = c.attempts + 1,
                               updated_at = now(), completed_at = now()
         where c.id = any (v_ids);
        return query
          select v_ids[(d->>0)::integer], 'ok'::text,
                 array(select x::bigint from jsonb_array_elements_text(d->1) x)
            from jsonb_array_elements(v_done) with ordinality as e(d, n)
           order by e.n;
        return;
      end if;
    end if;
  end if;
  -- row locks make the apply safe on its own: a transfer another transaction has
  -- meanwhile applied is re-checked, found no longer pending, and skipped
  for t in select p.* from (select c.id, c.from_user_id, c.to_user_id, c.currency, c.amount, c.reference,
                                   c.metadata, c.batch_id, c.status
                              from transfers c
                             where c.id = any (p_ids) order by c.id offset 0 for update) p
            where p.status = 'pending' loop
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

--
-- Name: wallet_assign_tier(bigint, bigint, text, text, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_assign_tier(p_id bigint, p_user bigint, p_tier text, p_currency text, p_actor text, p_reason text) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  v_previous text;
begin
  select tier into v_previous from users where user_id = p_user for update;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if not exists (select 1 from tiers where name = p_tier) then return wallet_refuse('not_found'); end if;
  if v_previous <> p_tier then
    update users set tier = p_tier where user_id = p_user;
    insert into audit_log (id, actor, action, target, reason, details)
    values (p_id, p_actor, 'tier', 'wallet:' || p_user, p_reason,
            jsonb_build_object('tier', p_tier, 'previous', v_previous))
    on conflict (id) do nothing;
  end if;
  return ('ok', wallet_inspect_json(p_user, p_currency), null)::wallet_step;
end
$$;

--
-- Name: wallet_audit_append_only(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_audit_append_only() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
begin
  raise exception 'audit_log is append-only: % is not allowed', tg_op using errcode = 'insufficient_privilege';
end
$$;

--
-- Name: wallet_batch_users(public.wallet_op[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_batch_users(p_ops public.wallet_op[]) RETURNS bigint[]
    LANGUAGE plpgsql STABLE
    AS $$
begin
  if not exists (select 1 from unnest(p_ops) x where x.k in (6, 7, 8)) then
    return array(select distinct q.id from (select unnest(array[x.u, x.c]) from unnest(p_ops) x) q(id)
                  where q.id is not null);
  end if;
  return array(select distinct q.id from (
                 select unnest(array[x.u, x.c]) from unnest(p_ops) x
                 union all
                 select unnest(array[h.user_id, h.destination_user_id]) from holds h
                  where h.id = any (array(select x.r from unnest(p_ops) x where x.k in (6, 7)))
                 union all
                 select j.user_id from journal j
                  where j.id = any (array(select x.r from unnest(p_ops) x where x.k = 8))) q(id)
                where q.id is not null);
end
$$;

--
-- Name: wallet_claim_in_order(bigint[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_claim_in_order(p_ids bigint[]) RETURNS bigint[]
    LANGUAGE sql STABLE
    AS $$
  with held as (
    select o.from_user_id, min(o.id) as first from transfers o
     where o.status = 'pending' and o.id < (select max(x) from unnest(p_ids) x) and o.id <> all (p_ids)
     group by o.from_user_id)
  select coalesce(array_agg(c.id order by c.id), '{}') from transfers c
   where c.id = any (p_ids)
     and not exists (select 1 from held h where h.from_user_id = c.from_user_id and h.first < c.id)
$$;

--
-- Name: wallet_claim_transfers(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_claim_transfers(p_limit integer) RETURNS bigint[]
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    SET enable_bitmapscan TO 'off'
    AS $$
declare
  v_cand bigint[];
  v_users bigint[];
  v_ids bigint[];
begin
  v_cand := array(select p.id from transfers p
                   where p.status = 'pending' and p.next_attempt_at <= now()
                   order by p.id
                   limit p_limit
                   for update skip locked);
  if cardinality(v_cand) = 0 then return '{}'; end if;
  begin
    -- the candidates' users that no other transaction holds, locked now, never waited for
    v_users := array(select x.user_id from users x
                      where x.user_id in (select c.from_user_id from transfers c where c.id = any (v_cand)
                                          union select c.to_user_id from transfers c where c.id = any (v_cand))
                      order by x.user_id
                      for update skip locked);
    v_ids := wallet_claim_in_order(array(
      select c.id from transfers c
       where c.id = any (v_cand) and c.from_user_id = any (v_users) and c.to_user_id = any (v_users)));
    if cardinality(v_ids) > 0 then return v_ids; end if;
    raise sqlstate 'WC001';
  exception when sqlstate 'WC001' then
    -- nothing free: the users locked in this block are let go (holding some of them while
    -- waiting for others in wallet_lock would take locks out of order), and the batch
    -- waits for its users in order, as before
    null;
  end;
  return wallet_claim_in_order(v_cand);
end
$$;

--
-- Name: wallet_credit_refused(bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_credit_refused(p_user bigint, p_currency text, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql STABLE
    AS $$
declare
  v_balance bigint;
  v_max bigint;
begin
  select coalesce(w.balance, 0), l.max_balance into v_balance, v_max
    from users u
    left join wallets w on w.user_id = u.user_id and w.currency = p_currency
    left join tier_limits l on l.tier = u.tier and l.currency = p_currency
   where u.user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_balance > 9007199254740991 - p_amount then return wallet_refuse('balance_limit_exceeded'); end if;
  if v_balance + p_amount > v_max then return wallet_limit_refusal('max_balance', v_max - v_balance, null); end if;
  return wallet_refuse(null);
end
$$;

--
-- Name: wallet_debit_refused(bigint, text, bigint, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_debit_refused(p_user bigint, p_currency text, p_amount bigint, p_operator boolean DEFAULT false) RETURNS public.wallet_step
    LANGUAGE plpgsql STABLE
    AS $$
declare
  u users;
  w wallets;
  l tier_limits;
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
  v_used bigint;
begin
  select * into u from users where user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if u.frozen and not p_operator then return wallet_refuse('wallet_frozen'); end if;
  select * into w from wallets where user_id = p_user and currency = p_currency;
  if not p_operator and p_amount > 0 then
    l := wallet_tier_limits(p_user, p_currency);
    if p_amount > l.max_debit then return wallet_limit_refusal('max_debit', l.max_debit, null); end if;
    v_used := case when w.day_on = v_today then w.day_amount else 0 end;
    if v_used + p_amount > l.daily_debit_amount then
      return wallet_limit_refusal('daily_debit_amount', l.daily_debit_amount - v_used, v_today + 1);
    end if;
    v_used := case when w.day_on = v_today then w.day_count else 0 end;
    if v_used + 1 > l.daily_debit_count then
      return wallet_limit_refusal('daily_debit_count', l.daily_debit_count - v_used, v_today + 1);
    end if;
    v_used := case when w.month_on = v_month then w.month_amount else 0 end;
    if v_used + p_amount > l.monthly_debit_amount then
      return wallet_limit_refusal('monthly_debit_amount', l.monthly_debit_amount - v_used,
                                  (v_month + interval '1 month')::date);
    end if;
  end if;
  if coalesce(w.balance + w.credit_limit - w.held, 0) < p_amount then return wallet_refuse('insufficient_funds'); end if;
  return wallet_refuse(null);
end
$$;

--
-- Name: wallet_defer_transfers(bigint[], text, integer, double precision, double precision); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_defer_transfers(p_ids bigint[], p_error text, p_max_attempts integer, p_base_ms double precision, p_cap_ms double precision) RETURNS TABLE(id bigint, status text, attempts integer)
    LANGUAGE sql
    AS $$
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

--
-- Name: wallet_define_tier(bigint, text, jsonb, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_define_tier(p_id bigint, p_name text, p_limits jsonb, p_actor text) RETURNS jsonb
    LANGUAGE plpgsql
    AS $$
begin
  insert into tiers (name) values (p_name) on conflict (name) do update set updated_at = now();
  delete from tier_limits where tier = p_name;
  insert into tier_limits (tier, currency, max_debit, daily_debit_amount, daily_debit_count, monthly_debit_amount,
                           max_balance)
  select p_name, c.key, (c.value ->> 'max_debit')::bigint, (c.value ->> 'daily_debit_amount')::bigint,
         (c.value ->> 'daily_debit_count')::bigint, (c.value ->> 'monthly_debit_amount')::bigint,
         (c.value ->> 'max_balance')::bigint
    from jsonb_each(p_limits) c;
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'tier_definition', 'tier:' || p_name, null, jsonb_build_object('limits', wallet_tier_json(p_name)))
  on conflict (id) do nothing;
  return jsonb_build_object('name', p_name, 'limits', wallet_tier_json(p_name));
end
$$;

--
-- Name: wallet_dispatch(public.wallet_op, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_dispatch(o public.wallet_op, p_replay boolean) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
begin
  case o.k
    when 1 then return case when p_replay then wallet_replay_journal(o) else wallet_op_deposit(o.id, o.u, o.cur, o.a) end;
    when 2 then return case when p_replay then wallet_replay_journal(o) else wallet_op_withdraw(o.id, o.u, o.cur, o.a) end;
    when 3 then return case when p_replay then wallet_replay_journal(o)
                            else wallet_op_transfer(o.id, o.u, o.c, o.cur, o.a) end;
    when 4 then return case when p_replay then wallet_replay_accept(o)
                            else wallet_op_accept(o.id, o.u, o.c, o.cur, o.a) end;
    when 5 then return case when p_replay then wallet_replay_hold(o)
                            else wallet_op_hold(o.id, o.u, o.c, o.cur, o.a, o.e) end;
    when 6 then return case when p_replay then wallet_replay_hold(o) else wallet_op_capture(o.id, o.u, o.r, o.a) end;
    when 7 then return case when p_replay then wallet_replay_hold(o) else wallet_op_void(o.id, o.u, o.r) end;
    when 8 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_reverse(o.id, o.r, o.a, o.actor, o.reason) end;
    when 9 then return case when p_replay then wallet_replay_operator(o)
                            else wallet_op_adjust(o.id, o.c, o.cur, o.a, o.actor, o.reason) end;
    when 10 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, o.cur, true, o.actor, o.reason) end;
    when 11 then return case when p_replay then wallet_replay_operator(o)
                             else wallet_op_freeze(o.id, o.c, o.cur, false, o.actor, o.reason) end;
    when 12 then return case when p_replay then wallet_replay_exchange(o) else wallet_op_exchange(o.id, o.u, o.r) end;
    when 13 then return case when p_replay then wallet_replay_quote(o)
                             else wallet_op_quote(o.id, o.u, o.cur, o.cur_to, o.a, o.shift, o.e) end;
    else raise exception 'wallet_apply: unknown operation kind %', o.k;
  end case;
end
$$;

--
-- Name: fx_quotes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fx_quotes (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    from_currency text NOT NULL,
    to_currency text NOT NULL,
    amount bigint NOT NULL,
    converted_amount bigint NOT NULL,
    rate numeric NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    exchange_id bigint,
    CONSTRAINT fx_quotes_amount_check CHECK ((amount > 0)),
    CONSTRAINT fx_quotes_converted_amount_check CHECK ((converted_amount > 0))
);

--
-- Name: wallet_exchange_json(bigint, public.fx_quotes, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_exchange_json(p_id bigint, q public.fx_quotes, p_from_balance bigint, p_to_balance bigint) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select jsonb_build_object('exchange_id', p_id::text, 'quote_id', q.id::text, 'from_currency', q.from_currency,
                            'to_currency', q.to_currency, 'amount', q.amount, 'converted_amount', q.converted_amount,
                            'rate', trim_scale(q.rate)::text,
                            'balances', jsonb_build_object(q.from_currency, p_from_balance, q.to_currency, p_to_balance))
$$;

--
-- Name: wallet_expire_holds(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_expire_holds(p_limit integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
declare
  v_users bigint[];
  v_user bigint;
  v_rows journal[] := '{}';
begin
  v_users := array(select distinct h.user_id from holds h where h.status = 'held' and h.expires_at <= now()
                    limit p_limit);
  if cardinality(v_users) = 0 then return 0; end if;
  for v_user in select user_id from users where user_id = any (v_users) order by user_id for update skip locked loop
    v_rows := v_rows || wallet_release_expired(v_user);
  end loop;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
  return cardinality(v_rows);
end
$$;

--
-- Name: wallet_flush(public.journal[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_flush(p_rows public.journal[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  insert into journal select (r).* from unnest(p_rows) r;
end
$$;

--
-- Name: holds; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.holds (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    destination_user_id bigint,
    amount bigint NOT NULL,
    status text DEFAULT 'held'::text NOT NULL,
    captured_amount bigint,
    expires_at timestamp with time zone NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    closed_at timestamp with time zone,
    closed_by bigint,
    currency text NOT NULL,
    reference text,
    metadata jsonb,
    batch_id bigint,
    CONSTRAINT holds_amount_check CHECK ((amount > 0)),
    CONSTRAINT holds_check CHECK (((captured_amount > 0) AND (captured_amount <= amount))),
    CONSTRAINT holds_check1 CHECK (((status = 'captured'::text) = (captured_amount IS NOT NULL))),
    CONSTRAINT holds_status_check CHECK ((status = ANY (ARRAY['held'::text, 'captured'::text, 'voided'::text, 'expired'::text])))
);

--
-- Name: wallet_hold_json(public.holds); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_hold_json(h public.holds) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
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

--
-- Name: wallet_hold_refusal(public.holds, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_hold_refusal(h public.holds, p_actor bigint) RETURNS text
    LANGUAGE sql STABLE
    AS $$
  select case
    when h.id is null then 'not_found'
    when p_actor <> h.user_id and p_actor is distinct from h.destination_user_id then 'not_found'
    when p_actor <> coalesce(h.destination_user_id, h.user_id) then 'forbidden'
    when h.status <> 'held' or h.expires_at <= now() then 'hold_not_active'
  end
$$;

--
-- Name: wallet_hold_result(public.holds, public.journal); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_hold_result(h public.holds, j public.journal) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after, 'available_balance', j.available_after)
         || case when h.status <> 'captured' then '{}'::jsonb
                 when h.destination_user_id is null then jsonb_build_object('transaction_id', h.closed_by::text)
                 else jsonb_build_object('transfer_id', h.closed_by::text) end
$$;

--
-- Name: wallet_inspect_json(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_inspect_json(p_user bigint, p_currency text) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select jsonb_build_object(
    'user_id', u.user_id,
    'currency', p_currency,
    'balance', coalesce(w.balance, 0),
    'available_balance', coalesce(w.balance + w.credit_limit - w.held, 0)
                         + coalesce((select sum(h.amount) from holds h
                                      where h.user_id = u.user_id and h.currency = p_currency and h.status = 'held'
                                        and h.expires_at <= now()), 0),
    'credit_limit', coalesce(w.credit_limit, 0),
    'tier', u.tier,
    'frozen', u.frozen,
    'frozen_reason', u.frozen_reason,
    'active_holds', (select count(*) from holds h where h.user_id = u.user_id and h.currency = p_currency
                                                   and h.status = 'held' and h.expires_at > now()),
    'pending_transfers', (select count(*) from transfers t where t.from_user_id = u.user_id
                                                            and t.currency = p_currency
                                                            and t.status in ('pending', 'dead')),
    'created_at', wallet_iso(u.created_at))
  from users u left join wallets w on w.user_id = u.user_id and w.currency = p_currency
  where u.user_id = p_user
$$;

--
-- Name: wallet_iso(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_iso(p_at timestamp with time zone) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ select to_char(p_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

--
-- Name: wallet_known_outcome(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_known_outcome(p_outcome text) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  select p_outcome in ('ok', 'accepted', 'insufficient_funds', 'same_wallet', 'wallet_not_found',
                       'balance_limit_exceeded', 'not_found', 'forbidden', 'hold_not_active', 'amount_exceeds_hold',
                       'wallet_frozen', 'reversal_exceeds_original', 'not_reversible', 'quote_used', 'quote_expired',
                       'rate_unavailable', 'amount_too_small', 'version_mismatch', 'batch_refused',
                       'limit_exceeded')
$$;

--
-- Name: wallet_limit_refusal(text, bigint, date); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_limit_refusal(p_limit text, p_remaining bigint, p_resets date) RETURNS public.wallet_step
    LANGUAGE sql IMMUTABLE
    AS $$
  select ('limit_exceeded',
          jsonb_build_object('limit', p_limit, 'remaining', greatest(p_remaining, 0),
                             'resets_at', wallet_iso(p_resets::timestamp at time zone 'UTC')),
          null)::wallet_step
$$;

--
-- Name: wallet_limits_json(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_limits_json(p_user bigint, p_currency text) RETURNS jsonb
    LANGUAGE plpgsql STABLE
    AS $$
declare
  u users;
  w wallets;
  l tier_limits;
  v_today date := wallet_utc_day(now());
  v_month date := wallet_utc_month(now());
  v_day bigint;
  v_count bigint;
  v_mon bigint;
  v_out jsonb := '[]';
begin
  select * into u from users where user_id = p_user;
  if not found then return null; end if;
  select * into w from wallets where user_id = p_user and currency = p_currency;
  select * into l from tier_limits where tier = u.tier and currency = p_currency;
  v_day := case when w.day_on = v_today then w.day_amount else 0 end;
  v_count := case when w.day_on = v_today then w.day_count else 0 end;
  v_mon := case when w.month_on = v_month then w.month_amount else 0 end;
  select coalesce(jsonb_agg(jsonb_build_object('name', x.name, 'limit', x.lim, 'used', x.used,
                                               'remaining', greatest(x.lim - x.used, 0),
                                               'resets_at', wallet_iso(x.resets::timestamp at time zone 'UTC'))
                            order by x.ord), '[]')
    into v_out
    from (values (1, 'max_debit', l.max_debit, 0::bigint, null::date),
                 (2, 'daily_debit_amount', l.daily_debit_amount, v_day, v_today + 1),
                 (3, 'daily_debit_count', l.daily_debit_count, v_count, v_today + 1),
                 (4, 'monthly_debit_amount', l.monthly_debit_amount, v_mon, (v_month + interval '1 month')::date),
                 (5, 'max_balance', l.max_balance, coalesce(w.balance, 0), null::date)) x(ord, name, lim, used, resets)
   where x.lim is not null;
  return jsonb_build_object('tier', u.tier, 'currency', p_currency, 'credit_limit', coalesce(w.credit_limit, 0),
                            'limits', v_out);
end
$$;

--
-- Name: wallet_lock(bigint[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_lock(p_users bigint[], OUT rows public.journal[], OUT locked bigint[]) RETURNS record
    LANGUAGE plpgsql
    SET enable_seqscan TO 'off'
    AS $$
declare
  u record;
begin
  rows := '{}';
  locked := array(select x.user_id from users x where x.user_id = any (p_users) order by x.user_id for update);
  -- one look for the batch: which of its users have a hold past its expiry (rare)
  for u in select distinct w.user_id from wallets w
            where w.user_id = any (locked) and w.hold_expiry <= now() order by w.user_id loop
    rows := rows || wallet_release_expired(u.user_id);
  end loop;
end
$$;

--
-- Name: wallet_lock_positions(bigint[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_lock_positions(p_quotes bigint[]) RETURNS void
    LANGUAGE sql
    AS $$
  select 1 from fx_positions p
   where (p.currency, p.shard) in (select c, (q.user_id % 16)::smallint from fx_quotes q,
                                          lateral (values (q.from_currency), (q.to_currency)) v(c)
                                    where q.id = any (p_quotes))
   order by p.currency, p.shard
   for update of p
$$;

--
-- Name: wallet_log_changes(public.journal[], integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_log_changes(p_rows public.journal[], p_accepted integer DEFAULT 0) RETURNS void
    LANGUAGE plpgsql
    AS $$
begin
  if cardinality(p_rows) > 0 or p_accepted > 0 then
    insert into wallet_changes (changes, accepted)
    values (array(select x from unnest(p_rows) r, lateral (values (r.user_id), (r.seq)) v(x)), p_accepted);
  end if;
end
$$;

--
-- Name: wallet_monitors; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallet_monitors (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    currency text NOT NULL,
    field text NOT NULL,
    operator text NOT NULL,
    value bigint NOT NULL,
    triggered boolean NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT wallet_monitors_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT wallet_monitors_field_check CHECK ((field = ANY (ARRAY['balance'::text, 'available_balance'::text]))),
    CONSTRAINT wallet_monitors_operator_check CHECK ((operator = ANY (ARRAY['lt'::text, 'lte'::text, 'gt'::text, 'gte'::text])))
);

--
-- Name: wallet_monitor_create(bigint, text, text, text, bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_monitor_create(p_user bigint, p_currency text, p_field text, p_operator text, p_value bigint, p_actor text) RETURNS public.wallet_monitors
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_monitor_holds(text, text, bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_monitor_holds(p_field text, p_operator text, p_value bigint, p_balance bigint, p_available bigint) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$
  select case p_operator when 'lt' then v < p_value when 'lte' then v <= p_value
                         when 'gt' then v > p_value else v >= p_value end
    from (select case p_field when 'balance' then p_balance else p_available end as v) x
$$;

--
-- Name: wallet_monitor_judge(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_monitor_judge() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_monitor_remove(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_monitor_remove(p_id bigint, p_actor text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_next_id(); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_next_id() RETURNS bigint
    LANGUAGE sql
    AS $$
  select ((floor(extract(epoch from clock_timestamp()) * 1000)::bigint - 1735689600000) << 22)
         | (nextval('wallet_id_seq') % 2097152)
$$;

--
-- Name: wallet_op_accept(bigint, bigint, bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_accept(p_id bigint, p_from bigint, p_to bigint, p_currency text, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
begin
  if p_from = p_to then return wallet_refuse('same_wallet'); end if;
  if not exists (select 1 from users where user_id = p_to) then return wallet_refuse('wallet_not_found'); end if;
  if (select frozen from users where user_id = p_from) then return wallet_refuse('wallet_frozen'); end if;
  insert into transfers (id, from_user_id, to_user_id, currency, amount, async, status)
  values (p_id, p_from, p_to, p_currency, p_amount, true, 'pending');
  return ('accepted', jsonb_build_object('success', true, 'transfer_id', p_id::text, 'status', 'pending'), null)::wallet_step;
end
$$;

--
-- Name: wallet_op_adjust(bigint, bigint, text, bigint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_adjust(p_id bigint, p_user bigint, p_currency text, p_amount bigint, p_actor text, p_reason text) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  j journal;
begin
  if not exists (select 1 from users where user_id = p_user) then return wallet_refuse('wallet_not_found'); end if;
  j := wallet_record(p_user, p_currency, 11::smallint, 5::smallint, sign(p_amount)::smallint, abs(p_amount), p_id,
                     p_reason => p_reason, p_operator => true);
  if j.seq is null then
    if p_amount > 0 then return wallet_refuse('balance_limit_exceeded'); end if;
    return wallet_debit_refused(p_user, p_currency, abs(p_amount), true);
  end if;
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'adjustment', 'wallet:' || p_user, p_reason,
          jsonb_build_object('amount', p_amount, 'currency', p_currency));
  return ('ok', wallet_adjustment_json(j), array[j])::wallet_step;
end
$$;

--
-- Name: wallet_op_capture(bigint, bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_capture(p_id bigint, p_actor bigint, p_hold bigint, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  h holds;
  v_amount bigint;
  v_dest bigint;
  a journal;
  v_rows journal[];
  v_refusal text;
  s wallet_step;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  v_amount := coalesce(p_amount, h.amount);
  if v_amount > h.amount then return wallet_refuse('amount_exceeds_hold'); end if;
  v_dest := h.destination_user_id;
  if v_dest is not null then
    s := wallet_credit_refused(v_dest, h.currency, v_amount);
    if s.outcome is not null then return s; end if;
  end if;
  a := wallet_record(h.user_id, h.currency, 7::smallint, case when v_dest is null then 2 else 3 end::smallint,
                     -1::smallint, v_amount, p_id, v_dest, case when v_dest is not null then p_id end, h.id,
                     p_held => -h.amount);
  if a.seq is null then return wallet_debit_refused(h.user_id, h.currency, v_amount - h.amount); end if;
  v_rows := array[a];
  if v_dest is not null then
    v_rows := v_rows || wallet_record(v_dest, h.currency, 3::smallint, 3::smallint, 1::smallint, v_amount, p_id,
                                      h.user_id, p_id, h.id);
  end if;
  update holds set status = 'captured', captured_amount = v_amount, closed_at = now(), closed_by = p_id
   where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, a), v_rows)::wallet_step;
end
$$;

--
-- Name: wallet_op_deposit(bigint, bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_deposit(p_id bigint, p_user bigint, p_currency text, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  s wallet_step := wallet_credit_refused(p_user, p_currency, p_amount);
  j journal;
begin
  if s.outcome is not null then return s; end if;
  j := wallet_record(p_user, p_currency, 1::smallint, 1::smallint, 1::smallint, p_amount, p_id);
  if j.seq is null then return wallet_refuse('balance_limit_exceeded'); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text, 'currency', p_currency),
          array[j])::wallet_step;
end
$$;

--
-- Name: wallet_op_exchange(bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_exchange(p_id bigint, p_user bigint, p_quote bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  q fx_quotes;
  a journal;
  b journal;
  s wallet_step;
  v_shard smallint := (p_user % 16)::smallint;
begin
  select * into q from fx_quotes where id = p_quote for update;
  if not found or q.user_id <> p_user then return wallet_refuse('not_found'); end if;
  if q.exchange_id is not null then return wallet_refuse('quote_used'); end if;
  if q.expires_at <= now() then return wallet_refuse('quote_expired'); end if;
  s := wallet_credit_refused(p_user, q.to_currency, q.converted_amount);
  if s.outcome is not null then return s; end if;
  a := wallet_record(p_user, q.from_currency, 14::smallint, 6::smallint, -1::smallint, q.amount, p_id);
  if a.seq is null then return wallet_debit_refused(p_user, q.from_currency, q.amount); end if;
  b := wallet_record(p_user, q.to_currency, 15::smallint, 6::smallint, 1::smallint, q.converted_amount, p_id);
  update fx_positions set position = position + q.amount where currency = q.from_currency and shard = v_shard;
  update fx_positions set position = position - q.converted_amount where currency = q.to_currency and shard = v_shard;
  update fx_quotes set exchange_id = p_id where id = q.id;
  return ('ok', wallet_exchange_json(p_id, q, a.balance_after, b.balance_after), array[a, b])::wallet_step;
end
$$;

--
-- Name: wallet_op_freeze(bigint, bigint, text, boolean, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_freeze(p_id bigint, p_user bigint, p_currency text, p_freeze boolean, p_actor text, p_reason text) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  v_frozen boolean;
  j journal;
begin
  select frozen into v_frozen from users where user_id = p_user;
  if not found then return wallet_refuse('wallet_not_found'); end if;
  if v_frozen = p_freeze then return ('ok', wallet_inspect_json(p_user, p_currency), null)::wallet_step; end if;
  update users set frozen = p_freeze, frozen_reason = case when p_freeze then p_reason end where user_id = p_user;
  j := wallet_record(p_user, p_currency, case when p_freeze then 12 else 13 end::smallint, null, 0::smallint, 0, p_id,
                     p_reason => p_reason);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, case when p_freeze then 'freeze' else 'unfreeze' end, 'wallet:' || p_user, p_reason, '{}');
  return ('ok', wallet_inspect_json(p_user, p_currency), array[j])::wallet_step;
end
$$;

--
-- Name: wallet_op_hold(bigint, bigint, bigint, text, bigint, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_hold(p_id bigint, p_user bigint, p_dest bigint, p_currency text, p_amount bigint, p_expires_s integer) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  j journal;
  h holds;
begin
  if p_dest = p_user then return wallet_refuse('same_wallet'); end if;
  if p_dest is not null and not exists (select 1 from users where user_id = p_dest) then
    return wallet_refuse('wallet_not_found');
  end if;
  j := wallet_record(p_user, p_currency, 6::smallint, null, 0::smallint, p_amount, p_id, p_dest, null, p_id,
                     p_held => p_amount, p_expires => now() + make_interval(secs => p_expires_s));
  if j.seq is null then return wallet_debit_refused(p_user, p_currency, p_amount); end if;
  insert into holds (id, user_id, destination_user_id, currency, amount, expires_at)
  values (p_id, p_user, p_dest, p_currency, p_amount, now() + make_interval(secs => p_expires_s))
  returning * into h;
  return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after, 'available_balance', j.available_after),
          array[j])::wallet_step;
end
$$;

--
-- Name: wallet_op_quote(bigint, bigint, text, text, bigint, integer, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_quote(p_id bigint, p_user bigint, p_from text, p_to text, p_amount bigint, p_shift integer, p_ttl_s integer) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  v_rate numeric;
  v_converted numeric;
  q fx_quotes;
begin
  select rate into v_rate from fx_rates where from_currency = p_from and to_currency = p_to;
  if not found then return wallet_refuse('rate_unavailable'); end if;
  v_converted := floor(p_amount * v_rate * power(10::numeric, p_shift));
  if v_converted < 1 then return wallet_refuse('amount_too_small'); end if;
  if v_converted > 9007199254740991 then return wallet_refuse('balance_limit_exceeded'); end if;
  insert into fx_quotes (id, user_id, from_currency, to_currency, amount, converted_amount, rate, expires_at)
  values (p_id, p_user, p_from, p_to, p_amount, v_converted, v_rate, now() + make_interval(secs => p_ttl_s))
  returning * into q;
  return ('ok', wallet_quote_json(q), null)::wallet_step;
end
$$;

--
-- Name: wallet_op_reverse(bigint, bigint, bigint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_reverse(p_id bigint, p_target bigint, p_amount bigint, p_actor text, p_reason text) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  v_out journal; -- the original's row that took money (a withdraw, a transfer's sender)
  v_in journal;  -- the original's row that gave money (a deposit, a transfer's receiver)
  v_kind smallint;
  v_currency text;
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
  if v_kind in (4, 5, 6) then return wallet_refuse('not_reversible'); end if;
  v_currency := coalesce(v_out.currency, v_in.currency);
  v_original := coalesce(v_out.amount, v_in.amount);
  select coalesce(sum(amount), 0) into v_done from journal
   where reverses = p_target and kind = 4 and direction = case when v_in.seq is not null then -1 else 1 end;
  v_amount := coalesce(p_amount, v_original - v_done);
  if v_amount <= 0 or v_done + v_amount > v_original then return wallet_refuse('reversal_exceeds_original'); end if;
  -- the money goes back: out of whoever received it, into whoever paid it (checked
  -- first, so that once the debit is made the credit cannot fail)
  if v_out.seq is not null
     and coalesce((select balance from wallets where user_id = v_out.user_id and currency = v_currency), 0)
         > 9007199254740991 - v_amount then
    return wallet_refuse('balance_limit_exceeded');
  end if;
  v_rows := '{}';
  if v_in.seq is not null then
    a := wallet_record(v_in.user_id, v_currency, 10::smallint, 4::smallint, -1::smallint, v_amount, p_id,
                       v_out.user_id, null, null, p_target, p_reason, p_operator => true);
    if a.seq is null then return wallet_debit_refused(v_in.user_id, v_currency, v_amount, true); end if;
    v_rows := array[a];
  end if;
  if v_out.seq is not null then
    v_rows := v_rows || wallet_record(v_out.user_id, v_currency, 10::smallint, 4::smallint, 1::smallint, v_amount,
                                      p_id, v_in.user_id, null, null, p_target, p_reason, p_operator => true);
  end if;
  v_details := jsonb_build_object(
    'amount', v_amount, 'original_amount', v_original, 'remaining', v_original - v_done - v_amount,
    'kind', case v_kind when 1 then 'deposit' when 2 then 'withdraw' else 'transfer' end,
    'currency', v_currency, 'from_user_id', v_in.user_id, 'to_user_id', v_out.user_id);
  insert into audit_log (id, actor, action, target, reason, details)
  values (p_id, p_actor, 'reversal', case when v_kind = 3 then 'transfer:' else 'transaction:' end || p_target,
          p_reason, v_details);
  return ('ok', wallet_reversal_json(p_id, p_target, p_reason, v_details), v_rows)::wallet_step;
end
$$;

--
-- Name: wallet_op_transfer(bigint, bigint, bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_transfer(p_id bigint, p_from bigint, p_to bigint, p_currency text, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_op_void(bigint, bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_void(p_id bigint, p_actor bigint, p_hold bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  h holds;
  j journal;
  v_refusal text;
begin
  select * into h from holds where id = p_hold;
  v_refusal := wallet_hold_refusal(h, p_actor);
  if v_refusal is not null then return wallet_refuse(v_refusal); end if;
  j := wallet_record(h.user_id, h.currency, 8::smallint, null, 0::smallint, h.amount, p_id, h.destination_user_id,
                     null, h.id, p_held => -h.amount);
  update holds set status = 'voided', closed_at = now(), closed_by = p_id where id = h.id returning * into h;
  return ('ok', wallet_hold_result(h, j), array[j])::wallet_step;
end
$$;

--
-- Name: wallet_op_withdraw(bigint, bigint, text, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_op_withdraw(p_id bigint, p_user bigint, p_currency text, p_amount bigint) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  j journal := wallet_record(p_user, p_currency, 2::smallint, 2::smallint, -1::smallint, p_amount, p_id);
begin
  if j.seq is null then return wallet_debit_refused(p_user, p_currency, p_amount); end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', p_id::text, 'currency', p_currency),
          array[j])::wallet_step;
end
$$;

--
-- Name: wallet_payer_version(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_payer_version(o public.wallet_op) RETURNS bigint
    LANGUAGE sql STABLE
    AS $$
  select case
    when o.k in (1, 2, 3, 4, 5) then
      coalesce((select w.version from wallets w where w.user_id = o.u and w.currency = o.cur), 0)
    when o.k in (6, 7) then
      (select coalesce(w.version, 0) from holds h
         left join wallets w on w.user_id = h.user_id and w.currency = h.currency where h.id = o.r)
    when o.k = 8 then
      (select coalesce(w.version, 0)
         from (select j.user_id, j.currency from journal j
                where j.id = o.r and j.kind is not null
                order by j.direction desc limit 1) t
         left join wallets w on w.user_id = t.user_id and w.currency = t.currency)
    when o.k = 9 then
      coalesce((select w.version from wallets w where w.user_id = o.c and w.currency = o.cur), 0)
    when o.k = 12 then
      (select coalesce(w.version, 0) from fx_quotes q
         left join wallets w on w.user_id = q.user_id and w.currency = q.from_currency
        where q.id = o.r and q.user_id = o.u)
  end
$$;

--
-- Name: wallet_process_transfers(integer, integer, double precision, double precision); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_process_transfers(p_limit integer, p_max_attempts integer, p_base_ms double precision, p_cap_ms double precision) RETURNS TABLE(id bigint, outcome text, error text, attempts integer, changes bigint[])
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_prune_events(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_prune_events(p_before timestamp with time zone) RETURNS integer
    LANGUAGE plpgsql
    AS $$
declare
  n integer;
begin
  with gone as (
    delete from journal j using relay_cursor c
     where j.user_id = c.user_id and j.seq <= c.published_seq and j.kind is null and j.created_at < p_before
    returning j.user_id),
  counted as (select user_id, count(*) as k from gone group by user_id),
  marked as (update users u set pruned_events = u.pruned_events + counted.k from counted
              where u.user_id = counted.user_id returning counted.k)
  select coalesce(sum(k), 0) into n from marked;
  return n;
end
$$;

--
-- Name: wallet_quote_json(public.fx_quotes); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_quote_json(q public.fx_quotes) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select jsonb_build_object('quote_id', q.id::text, 'from_currency', q.from_currency, 'to_currency', q.to_currency,
                            'amount', q.amount, 'converted_amount', q.converted_amount,
                            'rate', trim_scale(q.rate)::text, 'expires_at', wallet_iso(q.expires_at))
$$;

--
-- Name: wallet_reads_journal(smallint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_reads_journal(p_kind smallint) RETURNS boolean
    LANGUAGE sql IMMUTABLE
    AS $$ select p_kind = 8 $$;

--
-- Name: wallet_record(bigint, text, smallint, smallint, smallint, bigint, bigint, bigint, bigint, bigint, bigint, text, bigint, timestamp with time zone, boolean); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_record(p_user bigint, p_currency text, p_event smallint, p_kind smallint, p_direction smallint, p_amount bigint, p_id bigint, p_counterparty bigint DEFAULT NULL::bigint, p_transfer bigint DEFAULT NULL::bigint, p_hold bigint DEFAULT NULL::bigint, p_reverses bigint DEFAULT NULL::bigint, p_reason text DEFAULT NULL::text, p_held bigint DEFAULT 0, p_expires timestamp with time zone DEFAULT NULL::timestamp with time zone, p_operator boolean DEFAULT false) RETURNS public.journal
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_refuse(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_refuse(p_code text) RETURNS public.wallet_step
    LANGUAGE sql IMMUTABLE
    AS $$ select (p_code, null, null)::wallet_step $$;

--
-- Name: wallet_release_expired(bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_release_expired(p_user bigint) RETURNS public.journal[]
    LANGUAGE plpgsql
    AS $$
declare
  h record;
  j journal;
  v_rows journal[] := '{}';
begin
  for h in update holds set status = 'expired', closed_at = now()
            where user_id = p_user and status = 'held' and expires_at <= now()
        returning id, currency, amount, destination_user_id, reference, metadata loop
    j := wallet_record(p_user, h.currency, 9::smallint, null, 0::smallint, h.amount, wallet_next_id(),
                       h.destination_user_id, null, h.id, p_held => -h.amount);
    j.reference := h.reference;
    j.metadata := h.metadata;
    v_rows := v_rows || j;
  end loop;
  -- (x, not h: h is this function's loop variable)
  update wallets w set hold_expiry = (select min(x.expires_at) from holds x
                                       where x.user_id = p_user and x.currency = w.currency and x.status = 'held')
   where w.user_id = p_user and w.hold_expiry is not null;
  return v_rows;
end
$$;

--
-- Name: wallet_replay_accept(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_accept(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE sql STABLE
    AS $$
  select ('accepted', jsonb_build_object('success', true, 'transfer_id', o.id::text, 'status', 'pending'), null)::wallet_step
   where exists (select 1 from transfers where id = o.id)
$$;

--
-- Name: wallet_replay_batch(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_batch(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE sql STABLE
    AS $$
  select ('ok', b.result, null)::wallet_step from batches b where b.id = o.id
$$;

--
-- Name: wallet_replay_exchange(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_exchange(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  q fx_quotes;
begin
  select * into q from fx_quotes where id = o.r and exchange_id = o.id;
  if not found then return null; end if;
  return ('ok', wallet_exchange_json(o.id, q,
            (select j.balance_after from journal j where j.id = o.id and j.user_id = q.user_id
                                                     and j.currency = q.from_currency),
            (select j.balance_after from journal j where j.id = o.id and j.user_id = q.user_id
                                                     and j.currency = q.to_currency)), null)::wallet_step;
end
$$;

--
-- Name: wallet_replay_hold(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_hold(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  j journal;
  h holds;
begin
  select * into h from holds where id = case when o.k = 5 then o.id else o.r end;
  if not found or (o.k <> 5 and h.closed_by is distinct from o.id) then return null; end if;
  select * into j from journal where id = o.id and user_id = h.user_id and currency = h.currency;
  if o.k = 5 then
    return ('ok', wallet_hold_json(h) || jsonb_build_object('balance', j.balance_after,
                                                            'available_balance', j.available_after), null)::wallet_step;
  end if;
  return ('ok', wallet_hold_result(h, j), null)::wallet_step;
end
$$;

--
-- Name: wallet_replay_journal(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_journal(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  j journal;
begin
  select * into j from journal where id = o.id and user_id = o.u and currency = o.cur;
  if not found then return null; end if;
  if o.k = 3 then
    return ('ok', jsonb_build_object('success', true, 'transfer_id', o.id::text, 'balance', j.balance_after,
                                     'currency', j.currency), null)::wallet_step;
  end if;
  return ('ok', jsonb_build_object('balance', j.balance_after, 'transaction_id', o.id::text, 'currency', j.currency),
          null)::wallet_step;
end
$$;

--
-- Name: wallet_replay_operator(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_operator(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  a audit_log;
  j journal;
begin
  select * into a from audit_log where id = o.id;
  if not found then return null; end if;
  if o.k = 8 then
    return ('ok', wallet_reversal_json(o.id, o.r, a.reason, a.details), null)::wallet_step;
  elsif o.k = 9 then
    select * into j from journal where id = o.id and user_id = o.c and currency = o.cur;
    return ('ok', wallet_adjustment_json(j), null)::wallet_step;
  end if;
  return ('ok', wallet_inspect_json(o.c, o.cur), null)::wallet_step;
end
$$;

--
-- Name: wallet_replay_quote(public.wallet_op); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_replay_quote(o public.wallet_op) RETURNS public.wallet_step
    LANGUAGE sql STABLE
    AS $$
  select ('ok', wallet_quote_json(q), null)::wallet_step from fx_quotes q where q.id = o.id
$$;

--
-- Name: wallet_reversal_json(bigint, bigint, text, jsonb); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_reversal_json(p_id bigint, p_target bigint, p_reason text, p_details jsonb) RETURNS jsonb
    LANGUAGE sql IMMUTABLE
    AS $$
  select jsonb_build_object('reversal_id', p_id::text, 'reverses', p_target::text, 'reason', p_reason)
         || (p_details - 'original_amount')
$$;

--
-- Name: wallet_set_credit_limit(bigint, bigint, text, bigint, text, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_set_credit_limit(p_id bigint, p_user bigint, p_currency text, p_limit bigint, p_actor text, p_reason text) RETURNS public.wallet_step
    LANGUAGE plpgsql
    AS $$
declare
  v_rows journal[];
  v_previous bigint;
  j journal;
begin
  v_rows := (wallet_lock(array[p_user])).rows;
  if not exists (select 1 from users where user_id = p_user) then return wallet_refuse('wallet_not_found'); end if;
  insert into wallets (user_id, currency) values (p_user, p_currency) on conflict do nothing;
  select credit_limit into v_previous from wallets where user_id = p_user and currency = p_currency;
  if v_previous <> p_limit then
    update wallets set credit_limit = p_limit where user_id = p_user and currency = p_currency;
    j := wallet_record(p_user, p_currency, 18::smallint, null, 0::smallint, p_limit, p_id, p_reason => p_reason,
                       p_operator => true);
    v_rows := v_rows || j;
    insert into audit_log (id, actor, action, target, reason, details)
    values (p_id, p_actor, 'credit_limit', 'wallet:' || p_user, p_reason,
            jsonb_build_object('currency', p_currency, 'credit_limit', p_limit, 'previous', v_previous));
  end if;
  perform wallet_flush(v_rows);
  perform wallet_log_changes(v_rows);
  -- the rows come back so that the service passes the new versions to its caches at once
  return ('ok', wallet_inspect_json(p_user, p_currency), v_rows)::wallet_step;
end
$$;

--
-- Name: wallet_tag_rows(public.journal[], text, jsonb, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_tag_rows(p_rows public.journal[], p_ref text, p_meta jsonb, p_batch bigint) RETURNS public.journal[]
    LANGUAGE plpgsql IMMUTABLE
    AS $$
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

--
-- Name: wallet_tier_json(text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_tier_json(p_tier text) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
  select coalesce(jsonb_object_agg(l.currency, jsonb_strip_nulls(to_jsonb(l) - 'tier' - 'currency')
                                   order by l.currency), '{}')
    from tier_limits l where l.tier = p_tier
$$;

--
-- Name: tier_limits; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tier_limits (
    tier text NOT NULL,
    currency text NOT NULL,
    max_debit bigint,
    daily_debit_amount bigint,
    daily_debit_count bigint,
    monthly_debit_amount bigint,
    max_balance bigint,
    CONSTRAINT tier_limits_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT tier_limits_daily_debit_amount_check CHECK (((daily_debit_amount >= 0) AND (daily_debit_amount <= '9007199254740991'::bigint))),
    CONSTRAINT tier_limits_daily_debit_count_check CHECK (((daily_debit_count >= 0) AND (daily_debit_count <= '9007199254740991'::bigint))),
    CONSTRAINT tier_limits_max_balance_check CHECK (((max_balance >= 0) AND (max_balance <= '9007199254740991'::bigint))),
    CONSTRAINT tier_limits_max_debit_check CHECK (((max_debit >= 0) AND (max_debit <= '9007199254740991'::bigint))),
    CONSTRAINT tier_limits_monthly_debit_amount_check CHECK (((monthly_debit_amount >= 0) AND (monthly_debit_amount <= '9007199254740991'::bigint)))
);

--
-- Name: wallet_tier_limits(bigint, text); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_tier_limits(p_user bigint, p_currency text) RETURNS public.tier_limits
    LANGUAGE sql STABLE
    AS $$
  select l.* from users u join tier_limits l on l.tier = u.tier and l.currency = p_currency where u.user_id = p_user
$$;

--
-- Name: wallet_transfers_at_once(public.wallet_op[]); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_transfers_at_once(p_ops public.wallet_op[]) RETURNS TABLE(ord integer, outcome text, result jsonb, replayed boolean, changes bigint[])
    LANGUAGE plpgsql
    SET enable_hashjoin TO 'off'
    SET enable_mergejoin TO 'off'
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
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

--
-- Name: wallet_utc_day(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_utc_day(p_at timestamp with time zone) RETURNS date
    LANGUAGE sql IMMUTABLE
    AS $$
  select (p_at at time zone 'UTC')::date
$$;

--
-- Name: wallet_utc_month(timestamp with time zone); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_utc_month(p_at timestamp with time zone) RETURNS date
    LANGUAGE sql IMMUTABLE
    AS $$
  select date_trunc('month', p_at at time zone 'UTC')::date
$$;

--
-- Name: wallet_webhook_claim(bigint, integer, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_webhook_claim(p_endpoint bigint, p_limit integer, p_lease_ms integer) RETURNS TABLE(id bigint, user_id bigint, seq bigint, attempts integer)
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_webhook_done(bigint, boolean, integer, text, integer, double precision, double precision, integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_webhook_done(p_delivery bigint, p_ok boolean, p_status integer, p_error text, p_max_attempts integer, p_base_ms double precision, p_cap_ms double precision, p_lease_ms integer DEFAULT 0) RETURNS TABLE(status text, next_id bigint, next_seq bigint, next_attempts integer)
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: wallet_webhook_enqueue(integer); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_webhook_enqueue(p_limit integer) RETURNS integer
    LANGUAGE plpgsql
    SET jit TO 'off'
    AS $$
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

--
-- Name: wallet_webhook_retry(bigint, bigint); Type: FUNCTION; Schema: public; Owner: -
--

CREATE FUNCTION public.wallet_webhook_retry(p_endpoint bigint, p_delivery bigint) RETURNS text
    LANGUAGE plpgsql
    AS $$
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

--
-- Name: audit_log; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.audit_log (
    id bigint NOT NULL,
    at timestamp with time zone DEFAULT now() NOT NULL,
    actor text NOT NULL,
    action text NOT NULL,
    target text NOT NULL,
    reason text,
    details jsonb DEFAULT '{}'::jsonb NOT NULL,
    CONSTRAINT audit_log_action_check CHECK ((action = ANY (ARRAY['freeze'::text, 'unfreeze'::text, 'reversal'::text, 'adjustment'::text, 'transfer_retry'::text, 'fx_rate'::text, 'tier_definition'::text, 'tier'::text, 'credit_limit'::text, 'webhook'::text, 'monitor'::text]))),
    CONSTRAINT audit_log_actor_check CHECK (((length(actor) >= 1) AND (length(actor) <= 200)))
);

--
-- Name: batches; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.batches (
    id bigint NOT NULL,
    user_id bigint NOT NULL,
    result jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: fx_positions; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fx_positions (
    currency text NOT NULL,
    shard smallint NOT NULL,
    "position" bigint DEFAULT 0 NOT NULL
);

--
-- Name: fx_rates; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.fx_rates (
    from_currency text NOT NULL,
    to_currency text NOT NULL,
    rate numeric NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_by text NOT NULL,
    CONSTRAINT fx_rates_check CHECK (((to_currency ~ '^[A-Z]{3}$'::text) AND (to_currency <> from_currency))),
    CONSTRAINT fx_rates_from_currency_check CHECK ((from_currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT fx_rates_rate_check CHECK ((rate > (0)::numeric))
);

--
-- Name: idempotency_keys; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.idempotency_keys (
    user_id bigint NOT NULL,
    key text NOT NULL,
    request_hash text NOT NULL,
    outcome text,
    result jsonb,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    op_id bigint
);

--
-- Name: relay_cursor; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.relay_cursor (
    user_id bigint NOT NULL,
    published_seq bigint NOT NULL,
    stream_seq bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: relay_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.relay_state (
    id integer DEFAULT 1 NOT NULL,
    xid xid8 NOT NULL,
    change_id bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT relay_state_id_check CHECK ((id = 1))
);

--
-- Name: tiers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.tiers (
    name text NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT tiers_name_check CHECK ((name ~ '^[a-z0-9][a-z0-9_.-]{0,39}$'::text))
);

--
-- Name: transfers; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.transfers (
    id bigint NOT NULL,
    from_user_id bigint NOT NULL,
    to_user_id bigint NOT NULL,
    amount bigint NOT NULL,
    async boolean NOT NULL,
    status text NOT NULL,
    failure_reason text,
    attempts integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now() NOT NULL,
    last_error text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    completed_at timestamp with time zone,
    currency text NOT NULL,
    reference text,
    metadata jsonb,
    batch_id bigint,
    CONSTRAINT transfers_amount_check CHECK ((amount > 0)),
    CONSTRAINT transfers_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'completed'::text, 'failed'::text, 'dead'::text])))
);

--
-- Name: users; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.users (
    user_id bigint NOT NULL,
    seq bigint DEFAULT 0 NOT NULL,
    frozen boolean DEFAULT false NOT NULL,
    frozen_reason text,
    pruned_events bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    tier text DEFAULT 'default'::text NOT NULL,
    monitors integer DEFAULT 0 NOT NULL,
    CONSTRAINT users_user_id_check CHECK ((user_id > 0))
);

--
-- Name: wallet_changes; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallet_changes (
    id bigint NOT NULL,
    xid xid8 DEFAULT pg_current_xact_id() NOT NULL,
    changes bigint[] NOT NULL,
    accepted integer DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: wallet_changes_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.wallet_changes_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: wallet_changes_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.wallet_changes_id_seq OWNED BY public.wallet_changes.id;

--
-- Name: wallet_id_block_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.wallet_id_block_seq
    START WITH 1
    INCREMENT BY 1024
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: wallet_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.wallet_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: wallet_migrations; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallet_migrations (
    id integer NOT NULL,
    name character varying(255),
    batch integer,
    migration_time timestamp with time zone
);

--
-- Name: wallet_migrations_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.wallet_migrations_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: wallet_migrations_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.wallet_migrations_id_seq OWNED BY public.wallet_migrations.id;

--
-- Name: wallet_migrations_lock; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallet_migrations_lock (
    index integer NOT NULL,
    is_locked integer
);

--
-- Name: wallet_migrations_lock_index_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.wallet_migrations_lock_index_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: wallet_migrations_lock_index_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.wallet_migrations_lock_index_seq OWNED BY public.wallet_migrations_lock.index;

--
-- Name: wallets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.wallets (
    user_id bigint NOT NULL,
    balance bigint DEFAULT 0 NOT NULL,
    version bigint DEFAULT 0 NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    held bigint DEFAULT 0 NOT NULL,
    hold_expiry timestamp with time zone,
    currency text NOT NULL,
    credit_limit bigint DEFAULT 0 NOT NULL,
    day_on date,
    day_amount bigint DEFAULT 0 NOT NULL,
    day_count bigint DEFAULT 0 NOT NULL,
    month_on date,
    month_amount bigint DEFAULT 0 NOT NULL,
    CONSTRAINT wallets_balance_check CHECK (((balance >= '-9007199254740991'::bigint) AND (balance <= '9007199254740991'::bigint))),
    CONSTRAINT wallets_credit_limit_check CHECK (((credit_limit >= 0) AND (credit_limit <= '9007199254740991'::bigint))),
    CONSTRAINT wallets_currency_check CHECK ((currency ~ '^[A-Z]{3}$'::text)),
    CONSTRAINT wallets_held_check CHECK ((held >= 0)),
    CONSTRAINT wallets_user_id_check CHECK ((user_id > 0))
);

--
-- Name: webhook_deliveries; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_deliveries (
    id bigint NOT NULL,
    endpoint_id bigint NOT NULL,
    user_id bigint NOT NULL,
    seq bigint NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    last_status_code integer,
    last_error text,
    next_attempt_at timestamp with time zone,
    delivered_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'delivered'::text, 'failed'::text])))
);

--
-- Name: webhook_deliveries_id_seq; Type: SEQUENCE; Schema: public; Owner: -
--

CREATE SEQUENCE public.webhook_deliveries_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

--
-- Name: webhook_deliveries_id_seq; Type: SEQUENCE OWNED BY; Schema: public; Owner: -
--

ALTER SEQUENCE public.webhook_deliveries_id_seq OWNED BY public.webhook_deliveries.id;

--
-- Name: webhook_endpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_endpoints (
    id bigint NOT NULL,
    url text NOT NULL,
    event_types smallint[],
    description text,
    snapshot pg_snapshot DEFAULT pg_current_snapshot() NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
);

--
-- Name: webhook_queues; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_queues (
    endpoint_id bigint NOT NULL,
    user_id bigint NOT NULL,
    next_attempt_at timestamp with time zone,
    lease_until timestamp with time zone
);

--
-- Name: webhook_secrets; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_secrets (
    endpoint_id bigint NOT NULL,
    secret text NOT NULL,
    created_at timestamp with time zone DEFAULT clock_timestamp() NOT NULL,
    retired_at timestamp with time zone
);

--
-- Name: webhook_state; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.webhook_state (
    id integer DEFAULT 1 NOT NULL,
    xid xid8 NOT NULL,
    change_id bigint NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_state_id_check CHECK ((id = 1))
);

--
-- Name: wallet_changes id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_changes ALTER COLUMN id SET DEFAULT nextval('public.wallet_changes_id_seq'::regclass);

--
-- Name: wallet_migrations id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_migrations ALTER COLUMN id SET DEFAULT nextval('public.wallet_migrations_id_seq'::regclass);

--
-- Name: wallet_migrations_lock index; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_migrations_lock ALTER COLUMN index SET DEFAULT nextval('public.wallet_migrations_lock_index_seq'::regclass);

--
-- Name: webhook_deliveries id; Type: DEFAULT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries ALTER COLUMN id SET DEFAULT nextval('public.webhook_deliveries_id_seq'::regclass);

--
-- Name: audit_log audit_log_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.audit_log
    ADD CONSTRAINT audit_log_pkey PRIMARY KEY (id);

--
-- Name: batches batches_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.batches
    ADD CONSTRAINT batches_pkey PRIMARY KEY (id);

--
-- Name: fx_positions fx_positions_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fx_positions
    ADD CONSTRAINT fx_positions_pkey PRIMARY KEY (currency, shard);

--
-- Name: fx_quotes fx_quotes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fx_quotes
    ADD CONSTRAINT fx_quotes_pkey PRIMARY KEY (id);

--
-- Name: fx_rates fx_rates_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fx_rates
    ADD CONSTRAINT fx_rates_pkey PRIMARY KEY (from_currency, to_currency);

--
-- Name: holds holds_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_pkey PRIMARY KEY (id);

--
-- Name: idempotency_keys idempotency_keys_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.idempotency_keys
    ADD CONSTRAINT idempotency_keys_pkey PRIMARY KEY (user_id, key);

--
-- Name: journal journal_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.journal
    ADD CONSTRAINT journal_pkey PRIMARY KEY (user_id, seq);

--
-- Name: relay_cursor relay_cursor_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.relay_cursor
    ADD CONSTRAINT relay_cursor_pkey PRIMARY KEY (user_id);

--
-- Name: relay_state relay_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.relay_state
    ADD CONSTRAINT relay_state_pkey PRIMARY KEY (id);

--
-- Name: tier_limits tier_limits_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tier_limits
    ADD CONSTRAINT tier_limits_pkey PRIMARY KEY (tier, currency);

--
-- Name: tiers tiers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tiers
    ADD CONSTRAINT tiers_pkey PRIMARY KEY (name);

--
-- Name: transfers transfers_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.transfers
    ADD CONSTRAINT transfers_pkey PRIMARY KEY (id);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (user_id);

--
-- Name: wallet_changes wallet_changes_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_changes
    ADD CONSTRAINT wallet_changes_pkey PRIMARY KEY (id);

--
-- Name: wallet_migrations_lock wallet_migrations_lock_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_migrations_lock
    ADD CONSTRAINT wallet_migrations_lock_pkey PRIMARY KEY (index);

--
-- Name: wallet_migrations wallet_migrations_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_migrations
    ADD CONSTRAINT wallet_migrations_pkey PRIMARY KEY (id);

--
-- Name: wallet_monitors wallet_monitors_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_monitors
    ADD CONSTRAINT wallet_monitors_pkey PRIMARY KEY (id);

--
-- Name: wallets wallets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_pkey PRIMARY KEY (user_id, currency);

--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_user_id_seq_key; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_user_id_seq_key UNIQUE (endpoint_id, user_id, seq);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);

--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);

--
-- Name: webhook_queues webhook_queues_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_queues
    ADD CONSTRAINT webhook_queues_pkey PRIMARY KEY (endpoint_id, user_id);

--
-- Name: webhook_secrets webhook_secrets_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_secrets
    ADD CONSTRAINT webhook_secrets_pkey PRIMARY KEY (endpoint_id, created_at);

--
-- Name: webhook_state webhook_state_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_state
    ADD CONSTRAINT webhook_state_pkey PRIMARY KEY (id);

--
-- Name: holds_active_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX holds_active_idx ON public.holds USING btree (user_id, expires_at) WHERE (status = 'held'::text);

--
-- Name: holds_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX holds_user_idx ON public.holds USING btree (user_id, id DESC);

--
-- Name: idempotency_keys_created_at_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX idempotency_keys_created_at_idx ON public.idempotency_keys USING btree (created_at);

--
-- Name: journal_id_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX journal_id_idx ON public.journal USING btree (id, user_id, currency);

--
-- Name: journal_kind_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX journal_kind_idx ON public.journal USING btree (user_id, currency, kind, seq DESC) WHERE (kind IS NOT NULL);

--
-- Name: journal_money_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX journal_money_idx ON public.journal USING btree (user_id, currency, seq DESC) WHERE (kind IS NOT NULL);

--
-- Name: journal_reference_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX journal_reference_idx ON public.journal USING btree (user_id, reference, seq DESC) WHERE ((reference IS NOT NULL) AND (kind IS NOT NULL));

--
-- Name: journal_reverses_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX journal_reverses_idx ON public.journal USING btree (reverses) WHERE (reverses IS NOT NULL);

--
-- Name: journal_time_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX journal_time_idx ON public.journal USING btree (user_id, currency, created_at);

--
-- Name: transfers_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transfers_pending_idx ON public.transfers USING btree (id) WHERE (status = 'pending'::text);

--
-- Name: transfers_pending_sender_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transfers_pending_sender_idx ON public.transfers USING btree (from_user_id, id) WHERE (status = 'pending'::text);

--
-- Name: transfers_status_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX transfers_status_idx ON public.transfers USING btree (status, id);

--
-- Name: wallet_changes_xid_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX wallet_changes_xid_idx ON public.wallet_changes USING btree (xid);

--
-- Name: wallet_monitors_user_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX wallet_monitors_user_idx ON public.wallet_monitors USING btree (user_id, id);

--
-- Name: webhook_deliveries_list_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_list_idx ON public.webhook_deliveries USING btree (endpoint_id, id);

--
-- Name: webhook_deliveries_oldest_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_oldest_idx ON public.webhook_deliveries USING btree (endpoint_id, id) WHERE (status = 'pending'::text);

--
-- Name: webhook_deliveries_pending_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_deliveries_pending_idx ON public.webhook_deliveries USING btree (endpoint_id, user_id, seq) WHERE (status = 'pending'::text);

--
-- Name: webhook_queues_ready_idx; Type: INDEX; Schema: public; Owner: -
--

CREATE INDEX webhook_queues_ready_idx ON public.webhook_queues USING btree (endpoint_id, next_attempt_at) WHERE (next_attempt_at IS NOT NULL);

--
-- Name: audit_log audit_log_append_only; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_log_append_only BEFORE DELETE OR UPDATE ON public.audit_log FOR EACH ROW EXECUTE FUNCTION public.wallet_audit_append_only();

--
-- Name: audit_log audit_log_no_truncate; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON public.audit_log FOR EACH STATEMENT EXECUTE FUNCTION public.wallet_audit_append_only();

--
-- Name: users users_monitors; Type: TRIGGER; Schema: public; Owner: -
--

CREATE TRIGGER users_monitors AFTER UPDATE OF seq ON public.users FOR EACH ROW WHEN (((new.monitors > 0) AND (new.seq > old.seq) AND (pg_trigger_depth() = 0))) EXECUTE FUNCTION public.wallet_monitor_judge();

--
-- Name: fx_quotes fx_quotes_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.fx_quotes
    ADD CONSTRAINT fx_quotes_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(user_id);

--
-- Name: holds holds_destination_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_destination_user_id_fkey FOREIGN KEY (destination_user_id) REFERENCES public.users(user_id);

--
-- Name: holds holds_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.holds
    ADD CONSTRAINT holds_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(user_id);

--
-- Name: journal journal_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.journal
    ADD CONSTRAINT journal_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(user_id);

--
-- Name: tier_limits tier_limits_tier_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.tier_limits
    ADD CONSTRAINT tier_limits_tier_fkey FOREIGN KEY (tier) REFERENCES public.tiers(name);

--
-- Name: wallet_monitors wallet_monitors_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallet_monitors
    ADD CONSTRAINT wallet_monitors_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(user_id);

--
-- Name: wallets wallets_user_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.wallets
    ADD CONSTRAINT wallets_user_id_fkey FOREIGN KEY (user_id) REFERENCES public.users(user_id);

--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id) ON DELETE CASCADE;

--
-- Name: webhook_queues webhook_queues_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_queues
    ADD CONSTRAINT webhook_queues_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id) ON DELETE CASCADE;

--
-- Name: webhook_secrets webhook_secrets_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.webhook_secrets
    ADD CONSTRAINT webhook_secrets_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES public.webhook_endpoints(id) ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--
