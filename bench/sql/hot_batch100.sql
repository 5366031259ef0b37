-- every transfer pays wallet 1, 100 per transaction
select count(*) from (
  select (wallet_post(array_fill(3::smallint, array[100]), f, array_fill(1::bigint, array[100]), array_fill(1::bigint, array[100]),
                      array_fill(null::text, array[100]), array_fill(null::text, array[100]))).*
    from (select array_agg((floor(random() * (:users - 1)) + 2)::bigint) as f from generate_series(1, 100)) q) r;
