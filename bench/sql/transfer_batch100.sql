-- 100 synchronous transfers per transaction (one call, as group commit sends them)
select count(*) from wallet_apply((
  select jsonb_agg(jsonb_build_object('k', 3, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', x, 'c', x % :users + 1, 'a', 1))
    from (select (floor(random() * :users) + 1)::bigint as x from generate_series(1, 100)) s), false);
