-- 019: the async workers' batches in one statement too (issue 28). A worker's claimed
-- batch of accepted transfers went through wallet_op_transfer one transfer at a time,
-- each with its own statements and its own update of the transfers table. When every
-- pending transfer of the batch is plain (no reference, metadata or batch to tag) and no
-- expired hold was released under the batch's locks, the batch is now handed to 017's
-- wallet_transfers_at_once, in id order as the loop takes them, and marked completed by
-- one update. If that statement would refuse any of them (or one needs a step: a
-- monitor, a wallet to open), it changes nothing and the loop runs as before, so a
-- refusal is still recorded by one place. Same journal rows, sequences, change-log row
-- and answers either way (test/transfers-at-once.test.ts compares the two paths).
-- Functions only; no table changes.
create or replace function wallet_apply_transfers(p_ids bigint[])
returns table (id bigint, outcome text, changes bigint[])
language plpgsql as $$
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
      from (select c.id, c.from_user_id, c.to_user_id, c.currency, c.amount, c.reference, c.metadata, c.batch_id
              from transfers c
             where c.id = any (p_ids) and c.status = 'pending' order by c.id for update) p;
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
