-- the minimal transfer, 100 per transaction: tps x 100 = transfers/s
select minimal_transfer(array_agg(x), array_agg(x % :users + 1), 1)
  from (select (floor(random() * :users) + 1)::bigint as x from generate_series(1, 100)) s;
