#!/usr/bin/env node
// The same calls of wallet_apply on two migration levels, every answer and every table
// compared (timestamps and generated ids left out): a migration that redefines the
// money functions (016, 017) must change nothing a client or the ledger can see. Calls are
// random but seeded: transfers (refused for funds, limits, a frozen payer, a missing
// or the same wallet, a balance bound), deposits, withdrawals, holds, captures, voids,
// freezes, v2 transfers, batches, references, metadata, expected versions,
// Idempotency-Keys repeated, retries; tiers of limits on users 1-10 and 33-40,
// monitors that cross on users 3-28.
//   node bench/sql-differential.mjs   Env: LEVELS ("016,017"), SEEDS ("1,2,3"), CALLS (150), PLAIN (0.4),
//   CANDIDATE (a migration file measured as the second level, as bench/sql-levels.mjs's EXTRA)
import pg from "pg";
import { dbUrl, dropDb, log, migratedDb } from "./lib.mjs";

const [LEVEL_A, LEVEL_B] = (process.env.LEVELS ?? "016,017").split(",");
const SEEDS = (process.env.SEEDS ?? "1,2,3").split(",").map(Number);
const CALLS = Number(process.env.CALLS ?? 150);
const PLAIN = Number(process.env.PLAIN ?? 0.4); // the share of calls that are plainBatch()
let seed = 1;
const rnd = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
const int = (a, b) => a + Math.floor(rnd() * (b - a + 1));

let nextId = 7_000_000;
const holds = [];
const keys = [];
const done = [];
/** One random operation (ids from 7,000,000 on; holds and keys remembered for later calls). */
function op() {
  const u = int(1, 45);
  const c = rnd() < 0.05 ? 9999 : rnd() < 0.05 ? u : int(1, 45);
  const cur = rnd() < 0.8 ? "USD" : "EUR";
  const id = String(nextId++);
  const r = rnd();
  let o;
  if (r < 0.45) o = { k: 3, id, u, c, cur, a: pick([1, 5, 50, 700, 1500, 2500, 6000, 20000]) };
  else if (r < 0.52) o = { k: 1, id, u, cur, a: pick([1, 100, 3000, 9007199254740000]) };
  else if (r < 0.58) o = { k: 2, id, u, cur, a: pick([1, 100, 3000]) };
  else if (r < 0.66) {
    o = { k: 5, id, u, c: rnd() < 0.8 ? c : null, cur, a: pick([10, 500, 4000]), e: 3600 };
    holds.push({ id, u, c });
  } else if (r < 0.72 && holds.length) {
    const h = pick(holds);
    o = { k: 6, id, u: rnd() < 0.8 ? (h.c ?? h.u) : u, r: h.id, a: pick([1, 10, 300, 5000]) };
  } else if (r < 0.77 && holds.length) {
    const h = pick(holds);
    o = { k: 7, id, u: rnd() < 0.8 ? h.u : u, r: h.id };
  } else if (r < 0.8) o = { k: pick([10, 11]), id, c: u, cur, actor: "ops", reason: "check" };
  else if (r < 0.85) o = { k: 4, id, u, c, cur, a: pick([5, 50]) };
  else if (r < 0.93) {
    const ops = [];
    for (let i = int(1, 4); i > 0; i--) {
      const x = op();
      if ([1, 2, 3, 5, 6, 7].includes(x.k)) ops.push({ ...x, u });
    }
    o = { k: 14, id, u, ops };
  } else o = { k: 3, id, u, c, cur, a: pick([1, 20]) };
  if (o.k !== 14 && rnd() < 0.2) o.ref = `ref-${int(1, 5)}`;
  if (o.k !== 14 && rnd() < 0.15) o.meta = { note: `n${int(1, 3)}` };
  if ([1, 2, 3, 4, 5].includes(o.k) && rnd() < 0.1) o.ev = int(0, 4);
  return o;
}
/**
 * A batch of plain transfers (migration 017 applies such a batch in one statement when
 * every one of them passes, judged in order), often the same user in several (the same
 * payer again, or chains like a load test's u -> u+1, u+1 -> u+2).
 */
function plainBatch() {
  const ops = [];
  if (rnd() < 0.35) {
    // at an edge: one payer's debits cross its day's count (small amounts) or amount (36-40), its month's
    // amount (33-35) or its funds (29-32), or one receiver's credits its max balance
    // (33-35), only after the batch's earlier transfers
    const edge = int(1, 6);
    if (edge === 6) {
      // one user's two currencies in one batch (30 and 39 hold USD and EUR, no monitor):
      // its sequence runs across both wallets
      for (let i = int(3, 6); i > 0; i--) {
        const [u, c] = rnd() < 0.5 ? [30, 39] : [39, 30];
        ops.push({ k: 3, id: String(nextId++), u, c, cur: pick(["USD", "EUR"]), a: int(1, 50) });
      }
      done.push(...ops);
      return { ops, retry: false };
    }
    const one = edge === 1 || edge === 5 ? int(36, 40) : edge === 4 ? int(29, 32) : int(33, 35);
    for (let i = int(4, 8); i > 0; i--) {
      let other = int(29, 32);
      if (other === one) other = 28 - int(0, 1) * 27; // 28 or 1: someone else
      const [u, c] = edge === 3 ? [other, one] : [one, other];
      const a = edge === 4 ? pick([2500, 4000, 6000]) : edge === 5 ? pick([5, 50]) : pick([400, 700, 1000, 1900]);
      ops.push({ k: 3, id: String(nextId++), u, c, cur: "USD", a });
    }
    done.push(...ops);
    return { ops, retry: false };
  }
  // easy: small amounts among users without limits or monitors (mostly all pass, in one
  // statement); hard: users with limits and monitors too, amounts that run a payer dry
  // or past a limit only after its earlier transfers in the batch
  const hard = rnd() < 0.5;
  const pickUser = () =>
    !hard || rnd() < 0.55 ? int(29, 45) : rnd() < 0.55 ? int(1, 10) : rnd() < 0.85 ? int(11, 28) : 9999;
  const amount = () => (!hard || rnd() < 0.5 ? int(1, 300) : pick([1000, 1500, 1800, 1900, 2500, 4000, 6000, 20000]));
  let prev = { u: pickUser(), c: pickUser() };
  for (let i = int(1, 8); i > 0; i--) {
    const r = rnd();
    const u = r < 0.3 ? prev.u : r < 0.6 ? prev.c : pickUser();
    const c = rnd() < 0.3 && u < 45 ? u + 1 : pickUser();
    if (u === c) continue;
    prev = { u, c };
    const cur = rnd() < 0.9 ? "USD" : "EUR";
    // now and then a deposit among them (017 takes deposits too): to a wallet not yet
    // opened in EUR, or past a max balance
    if (rnd() < 0.2) ops.push({ k: 1, id: String(nextId++), u: c, cur, a: pick([1, 300, 5000]) });
    else ops.push({ k: 3, id: String(nextId++), u, c, cur, a: amount() });
  }
  if (ops.length === 0) ops.push({ k: 3, id: String(nextId++), u: 30, c: 31, cur: "USD", a: 1 });
  done.push(...ops);
  return { ops, retry: false };
}

/** One call: 1-8 operations, some with a key or a key used before, and now and then a retry. */
function call() {
  if (rnd() < PLAIN) return plainBatch();
  const ops = [];
  for (let i = int(1, 8); i > 0; i--) {
    let o = op();
    if (rnd() < 0.1 && keys.length) o = { ...pick(keys) };
    else if (rnd() < 0.1) {
      o.key = `key-${o.id}`;
      o.h = "h";
      keys.push(o);
    }
    ops.push(o);
    done.push(o);
  }
  const retry = rnd() < 0.1;
  if (retry && done.length > 10) ops.push({ ...done[int(0, done.length - 10)] });
  return { ops, retry };
}

const norm = (v) =>
  JSON.parse(JSON.stringify(v), (k, x) =>
    ["created_at", "expires_at", "updated_at", "closed_at", "next_attempt_at", "completed_at"].includes(k) ? "T" : x,
  );
/** Every table the calls write, without timestamps and generated ids. */
async function state(c) {
  const q = async (sql) => norm((await c.query(sql)).rows);
  return {
    journal: await q(`select user_id, seq, case when event in (16, 17) then null else id end as id, event, kind,
        direction, amount, balance_after, available_after, counterparty_user_id, transfer_id, hold_id, reverses,
        case when event in (16, 17) then substr(reason, position(' ' in reason)) else reason end as reason,
        currency, reference, metadata, batch_id from journal order by user_id, seq`),
    wallets: await q(`select user_id, currency, balance, version, held, hold_expiry is null as no_expiry, credit_limit,
        day_on, day_amount, day_count, month_on, month_amount from wallets order by 1, 2`),
    users: await q(`select user_id, seq, frozen, frozen_reason, pruned_events, tier, monitors from users order by 1`),
    holds: await q(`select id, user_id, destination_user_id, currency, amount, status, captured_amount, closed_by,
        reference, metadata, batch_id from holds order by id`),
    transfers: await q(`select id, from_user_id, to_user_id, currency, amount, status, reference, metadata, batch_id
        from transfers order by id`),
    batches: await q(`select id, user_id, result from batches order by id`),
    keys: await q(`select user_id, key, request_hash, op_id, outcome, result from idempotency_keys order by 1, 2`),
    changes: await q(`select changes, accepted from wallet_changes order by id`),
    monitors: await q(
      `select user_id, currency, field, operator, value, triggered from wallet_monitors order by user_id, field`,
    ),
    audit: await q(`select actor, action, target, reason, details - 'id' as details from audit_log
        where action <> 'monitor' order by id`),
  };
}

/** Wallets of users 1-45 (USD, EUR for a third of them), the tier, the monitors. */
const SETUP = [
  `select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', c,
     'id', (100000 + g * 10 + (c = 'EUR')::int)::text, 'u', g, 'a', 10000))
     from generate_series(1, 40) g, unnest(array['USD', 'EUR']) c where c = 'USD' or g % 3 = 0), false)`,
  `select wallet_define_tier(1, 'small', '{"USD": {"max_debit": 2000, "daily_debit_amount": 6000,
     "daily_debit_count": 8, "monthly_debit_amount": 20000, "max_balance": 16000}}', 'ops')`,
  `select wallet_assign_tier(10 + g, g, 'small', 'USD', 'ops', 'r') from generate_series(1, 10) g`,
  // limits on users without monitors, whose plain transfers 017 judges in one statement
  `select wallet_assign_tier(100 + g, g, 'small', 'USD', 'ops', 'r') from generate_series(36, 40) g`,
  `select wallet_define_tier(2, 'monthly', '{"USD": {"monthly_debit_amount": 5000, "max_balance": 12000}}', 'ops')`,
  `select wallet_assign_tier(200 + g, g, 'monthly', 'USD', 'ops', 'r') from generate_series(33, 35) g`,
  `select wallet_monitor_create(u, 'USD', f, o, v, 'ops') from (values (3, 'balance', 'lt', 9000),
     (4, 'available_balance', 'gte', 10500)) x(u, f, o, v)`,
  `select wallet_monitor_create(w.user_id, 'USD', 'balance', 'lt', w.balance, 'ops') from wallets w
     where w.user_id between 13 and 22 and w.currency = 'USD' order by 1`,
  `select wallet_monitor_create(w.user_id, 'USD', 'available_balance', 'gte', w.balance + 1, 'ops') from wallets w
     where w.user_id between 23 and 28 and w.currency = 'USD' order by 1`,
];

async function run(s) {
  seed = s;
  nextId = 7_000_000;
  holds.length = keys.length = done.length = 0;
  const names = [LEVEL_A, LEVEL_B].map((l) => `wallet_differential_${process.pid}_${l.replace(/\W/g, "")}`);
  migratedDb(names[0], LEVEL_A);
  migratedDb(names[1], LEVEL_B, process.env.CANDIDATE);
  const [a, b] = names.map((n) => new pg.Client({ connectionString: dbUrl(n) }));
  await a.connect();
  await b.connect();
  let diffs = 0;
  const tally = {};
  try {
    for (const sql of SETUP) await Promise.all([a.query(sql), b.query(sql)]);
    for (let i = 0; i < CALLS; i++) {
      const { ops, retry } = call();
      const params = [JSON.stringify(ops), retry];
      const sql = "select * from wallet_apply($1::jsonb, $2)";
      const [ra, rb] = await Promise.allSettled([a.query(sql, params), b.query(sql, params)]);
      const x = ra.status === "fulfilled" ? norm(ra.value.rows) : { error: ra.reason.message };
      const y = rb.status === "fulfilled" ? norm(rb.value.rows) : { error: rb.reason.message };
      for (const r of x.error ? [{ outcome: "error" }] : x) tally[r.outcome] = (tally[r.outcome] ?? 0) + 1;
      if (JSON.stringify(x) !== JSON.stringify(y)) {
        diffs++;
        log(
          `seed ${s} call ${i}: ${JSON.stringify(ops)}\n ${LEVEL_A} ${JSON.stringify(x)}\n ${LEVEL_B} ${JSON.stringify(y)}`,
        );
      }
    }
    const [sa, sb] = await Promise.all([state(a), state(b)]);
    const tables = {};
    for (const k of Object.keys(sa)) {
      const same = JSON.stringify(sa[k]) === JSON.stringify(sb[k]);
      if (!same) diffs++;
      tables[k] = `${sa[k].length} rows ${same ? "same" : "DIFFERENT"}`;
    }
    const monitorEvents = sa.journal.filter((r) => r.event === 16 || r.event === 17).length;
    return { seed: s, diffs, outcomes: tally, monitor_events: monitorEvents, tables };
  } finally {
    await a.end();
    await b.end();
    names.forEach(dropDb);
  }
}

let failed = 0;
for (const s of SEEDS) {
  const r = await run(s);
  failed += r.diffs;
  process.stdout.write(JSON.stringify(r) + "\n");
}
log(failed ? `${failed} differences` : `no difference between ${LEVEL_A} and ${LEVEL_B}`);
process.exit(failed ? 1 : 0);
