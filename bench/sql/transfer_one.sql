-- one synchronous transfer per transaction, through the function the service calls
\set from random(1, :users)
\set to (:from % :users) + 1
select count(*) from wallet_apply(jsonb_build_array(jsonb_build_object(
  'k', 3, 'cur', 'USD', 'id', wallet_next_id()::text, 'u', :from::bigint, 'c', :to::bigint, 'a', 1)), false);
