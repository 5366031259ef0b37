-- 021: the workers' statements read the queue the same way whatever the statistics say
-- (issue 28). After ANALYZE saw no pending transfer (what autovacuum leaves after a quiet
-- spell), a burst of accepted transfers drained at a fifth of the usual rate until the
-- next ANALYZE (bench/README.md), by two plans:
--
-- * The claim's candidates ("pending and due, in id order, limit n, for update skip
--   locked") were taken as a bitmap of transfers_pending_idx: every pending row read and
--   sorted (to disk), then the first n kept: 47 ms a claim with 97,000 pending. Without
--   bitmap scans the plans left are index scans in id order that stop after n rows:
--   0.7 ms. The claim's other statements look up a few rows by key, which index scans
--   serve as well; as with 020's enable_seqscan, the setting holds for the call only.
--
-- * The batch's "the given ids that are still pending, for update" (019) was planned as
--   a walk of one of the indexes on pending transfers (transfers_status_idx,
--   transfers_pending_sender_idx), "status = 'pending'" as the index's condition and the
--   ids as a filter: every pending entry read, 35 ms a batch of 100. The statistics said
--   those indexes held a row or two. The rows are now looked up by id alone (the primary
--   key; "offset 0" keeps the status test out of that scan, so no index on pending
--   transfers can serve it) and the status is tested on the locked rows. The ids are a
--   claim's, pending and locked by this transaction, so nothing more is locked than before.
--
-- Only the two statements change; the rest of wallet_apply_transfers is 019's.
alter function wallet_claim_transfers(integer) set enable_bitmapscan = off;

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
