-- 018: wallet_lock finds its batch's users and their wallets by key, always (issue 28).
-- It looks up a few users of a batch (`user_id = any (...)`) in users, to lock them, and
-- in wallets, for a hold past its expiry. On a small table PostgreSQL's cost model
-- prefers reading the whole table to probing the index once per user: on 1,000 users,
-- 3,000 calls of 9 users took 700 ms against 150-230 ms with the index (bench/README.md).
-- A batch never holds more than a few hundred users, so the index is right at every
-- size; on a large table the planner chooses it anyway. The setting holds while the
-- function (and what it calls) runs, nothing else.
alter function wallet_lock(bigint[]) set enable_seqscan = off;
