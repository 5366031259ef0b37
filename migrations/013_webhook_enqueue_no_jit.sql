-- 013: the webhook enqueuer runs without JIT compilation.
--
-- wallet_webhook_enqueue (011) reads at most 500 change-log rows and, with no endpoint,
-- writes nothing: its page statement runs in about a millisecond. But its plan is costed
-- for the journal's size (every change pair hash-joined to journal, generate_series
-- guessed at 1,000 rows per change row): about 1.1e5 on a database of 10,000 entries,
-- 5.2e7 on one of 10M (bench/README.md, "?reference= on 10M entries"). Past
-- jit_above_cost (1e5) PostgreSQL compiles the plan to machine code at every call, past
-- jit_inline_above_cost and jit_optimize_above_cost (5e5) with inlining and optimisation:
-- 0.8 to 1.3 s of CPU per call on 10M entries, for a statement that runs in under a
-- millisecond. The enqueuer runs after every write, so the database spent a core on
-- compiling while requests waited for the other. Same statements, same results.
alter function wallet_webhook_enqueue(integer) set jit = off;

-- migrate:down
alter function wallet_webhook_enqueue(integer) reset jit;
