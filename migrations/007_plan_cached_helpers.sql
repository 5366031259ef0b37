-- 007: the helpers every money call runs, in PL/pgSQL. A LANGUAGE sql function that
-- cannot be inlined (an INSERT, or a SELECT with subqueries) is parsed and planned
-- again at every call from PL/pgSQL; a PL/pgSQL function keeps its statements' plans
-- for the session (what it saved is measured in bench/README.md). Same statements,
-- same results.

-- Every wallet a batch touches, so that wallet_lock takes them all in user-id order:
-- the acting and counterparty users, and, only when the batch has operations that
-- name a hold or a journal entry (capture, void, reversal), the wallets those belong to.
create or replace function wallet_batch_users(p_ops wallet_op[]) returns bigint[]
language plpgsql stable as $$
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

create or replace function wallet_flush(p_rows journal[]) returns void
language plpgsql as $$
begin
  insert into journal select (r).* from unnest(p_rows) r;
end
$$;

create or replace function wallet_log_changes(p_rows journal[], p_accepted integer default 0) returns void
language plpgsql as $$
begin
  if cardinality(p_rows) > 0 or p_accepted > 0 then
    insert into wallet_changes (changes, accepted)
    values (array(select x from unnest(p_rows) r, lateral (values (r.user_id), (r.seq)) v(x)), p_accepted);
  end if;
end
$$;
