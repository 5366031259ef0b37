-- every transfer pays wallet 1, 100 per transaction
select count(*) from wallet_apply((
  select jsonb_agg(jsonb_build_object('k', 3, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', x, 'c', 1, 'a', 1))
    from (select (floor(random() * (:users - 1)) + 2)::bigint as x from generate_series(1, 100)) s), false);
