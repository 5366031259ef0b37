-- Where a transfer's time goes inside wallet_apply: each step timed over 3,000 transfers
-- in one transaction (no commit cost; rolled back), next to the minimal transfer.
--   psql -X -d <bench database with bench/sql/minimal.sql loaded> -f bench/sql/apply_parts.sql
begin;
do $$
declare
  t timestamptz; tot interval[] := array['0','0','0','0','0','0','0','0']::interval[];
  p jsonb; ops wallet_op[]; users bigint[]; lk record; s wallet_step; ch bigint[];
begin
  for i in 1..3000 loop
    p := jsonb_build_array(jsonb_build_object('k', 3, 'cur', 'USD', 'id', (20000000000 + i)::text, 'u', (i % 1000) + 1, 'c', ((i+1) % 1000) + 1, 'a', 1));
    t := clock_timestamp();
    ops := array(select x from jsonb_populate_recordset(null::wallet_op, p) x);
    tot[1] := tot[1] + (clock_timestamp() - t); t := clock_timestamp();
    users := wallet_batch_users(ops);
    tot[2] := tot[2] + (clock_timestamp() - t); t := clock_timestamp();
    lk := wallet_lock(users);
    tot[3] := tot[3] + (clock_timestamp() - t); t := clock_timestamp();
    s := wallet_dispatch(ops[1], false);
    tot[4] := tot[4] + (clock_timestamp() - t); t := clock_timestamp();
    ch := array(select x from unnest(s.rows) r, lateral (values (r.user_id), (r.seq)) v(x));
    tot[5] := tot[5] + (clock_timestamp() - t); t := clock_timestamp();
    perform wallet_flush(s.rows);
    tot[6] := tot[6] + (clock_timestamp() - t); t := clock_timestamp();
    perform wallet_log_changes(s.rows, 0);
    tot[7] := tot[7] + (clock_timestamp() - t); t := clock_timestamp();
    perform minimal_transfer(array[(i % 1000) + 1]::bigint[], array[((i+1) % 1000) + 1]::bigint[], 1);
    tot[8] := tot[8] + (clock_timestamp() - t);
  end loop;
  raise notice 'parse % | batch_users % | lock % | dispatch(transfer) % | changes % | flush % | log % | minimal %', tot[1], tot[2], tot[3], tot[4], tot[5], tot[6], tot[7], tot[8];
end $$;
rollback;
