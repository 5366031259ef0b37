-- every transfer pays wallet 1, one per transaction
\set from random(2, :users)
select count(*) from wallet_apply(jsonb_build_array(jsonb_build_object(
  'k', 3, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', :from::bigint, 'c', 1, 'a', 1)), false);
