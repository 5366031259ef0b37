-- the minimal transfer, one per transaction
\set from random(1, :users)
\set to (:from % :users) + 1
select minimal_transfer(array[:from]::bigint[], array[:to]::bigint[], 1);
