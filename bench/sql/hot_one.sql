-- every transfer pays wallet 1, one per transaction
\set from random(2, :users)
select * from wallet_post('{3}'::smallint[], array[:from]::bigint[], '{1}'::bigint[], '{1}'::bigint[], '{NULL}'::text[], '{NULL}'::text[]);
