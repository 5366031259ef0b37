-- one synchronous transfer per transaction, through the same function the service calls
\set from random(1, :users)
\set to (:from % :users) + 1
select * from wallet_post('{3}'::smallint[], array[:from]::bigint[], array[:to]::bigint[], '{1}'::bigint[], '{NULL}'::text[], '{NULL}'::text[]);
