-- transfer_one returning what the service reads back (outcome, answer, versions)
\set from random(1, :users)
\set to (:from % :users) + 1
\set id random(1000000000000, 9000000000000000000)
select * from wallet_apply(jsonb_build_array(jsonb_build_object(
  'k', 3, 'cur', 'USD', 'id', :id::text, 'u', :from::bigint, 'c', :to::bigint, 'a', 1)), false);
