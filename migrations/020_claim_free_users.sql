-- 020: a worker's claim keeps the transfers whose users it can lock now (issue 28).
-- Four loops claimed disjoint transfers, but a batch of 100 random transfers almost
-- surely shares users with another loop's batch, and wallet_lock waited for them: the
-- loops took turns (pg_stat_statements over a drain: 55 of 92 s inside the workers'
-- calls spent waiting in wallet_lock). The claim now locks its candidates' users with
-- SKIP LOCKED, in user-id order (it never waits, so it cannot deadlock), and keeps the
-- transfers both of whose users it holds; wallet_lock then finds them held. What it
-- leaves stays pending (and claimed by this transaction until it commits, so no other
-- loop takes it meanwhile), and the sender's order holds as before: a transfer is kept
-- only if no earlier pending transfer of its sender is left out. If it can keep none
-- (every candidate touches a user someone else holds), it lets go of the users it took
-- (they were taken in a block that is rolled back: holding some while waiting for
-- others would take locks out of order) and returns the candidates as the claim did
-- before, to wait for their users in wallet_lock, in order: a loop never spins on a
-- queue it cannot take. Same signature.

-- The transfers of p_ids that may go now: each waits for every earlier pending transfer
-- of its sender that is not among them (the sender's order, as the claim kept it before).
-- Such a transfer comes before the batch's last, so only the pending transfers before it
-- that are not in the batch are looked at (other loops' claims, retries not yet due,
-- what this claim left out): one range of transfers_pending_idx. Asked per transfer of
-- the batch instead, the planner read the sender's whole queue when the statistics were
-- taken on an empty queue: a claim of 100 took 1.6 s with 85,000 pending
-- (bench/README.md); this shape is the plan it picks either way.
create function wallet_claim_in_order(p_ids bigint[]) returns bigint[]
language sql stable as $$
  with held as (
    select o.from_user_id, min(o.id) as first from transfers o
     where o.status = 'pending' and o.id < (select max(x) from unnest(p_ids) x) and o.id <> all (p_ids)
     group by o.from_user_id)
  select coalesce(array_agg(c.id order by c.id), '{}') from transfers c
   where c.id = any (p_ids)
     and not exists (select 1 from held h where h.from_user_id = c.from_user_id and h.first < c.id)
$$;

create or replace function wallet_claim_transfers(p_limit integer) returns bigint[]
language plpgsql as $$
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

-- like wallet_lock: a few users by key, never the whole table
alter function wallet_claim_transfers(integer) set enable_seqscan = off;
