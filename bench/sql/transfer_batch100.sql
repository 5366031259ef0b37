-- 100 transfers per transaction (one call of the same function): tps x 100 = transfers/s
select count(*) from (
  select (wallet_post(array_fill(3::smallint, array[100]), f, t, array_fill(1::bigint, array[100]),
                      array_fill(null::text, array[100]), array_fill(null::text, array[100]))).*
    from (select array_agg(x) as f, array_agg(x % :users + 1) as t
            from (select (floor(random() * :users) + 1)::bigint as x from generate_series(1, 100)) s) q) r;
