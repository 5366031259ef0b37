-- transfer_batch100 with ids made by the client, as group commit sends them
select count(*) from wallet_apply((
  select jsonb_agg(jsonb_build_object('k', 3, 'cur', 'USD', 'id', (x * 1000003 + (random() * 1e15)::bigint)::text, 'u', x, 'c', x % :users + 1, 'a', 1))
    from (select (floor(random() * :users) + 1)::bigint as x from generate_series(1, 100)) s), false);
