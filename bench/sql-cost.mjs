#!/usr/bin/env node
// What each part of a transfer costs in SQL, with pgbench, same run, one database:
// the physical-limit baseline (minimal_transfer: lock both rows in id order, two
// updates, one insert of two entries into a table with only a primary key) against
// the service's wallet_apply, then wallet_apply with one part changed at a time: ids
// from the client instead of a sequence, an Idempotency-Key, the rows returned, and
// (on a copy of the schema, in this bench database only) without the change log row,
// without each secondary index of the journal.
//   node bench/sql-cost.mjs        Env: DURATION (s, default 10), USERS (1000), PG_ADMIN_URL
import path from "node:path";
import { dropDb, freshDb, log, machine, pgbench, psql, ratio, ROOT, sh, pgArgs, writeResult } from "./lib.mjs";

const DURATION = Number(process.env.DURATION ?? 10);
const USERS = Number(process.env.USERS ?? 1000);
const DB = `wallet_sqlcost_${process.pid}`;
const one = (file) => pgbench(DB, file, { duration: DURATION, users: USERS });
const batch = (file) => pgbench(DB, file, { duration: DURATION, users: USERS, clients: 8, per: 100 });

const results = { date: new Date().toISOString(), machine: machine(), settings: { DURATION, USERS }, runs: {} };
const R = results.runs;
freshDb(DB, USERS);
try {
  sh("psql", [...pgArgs, "-d", DB, "-XAtq", "-f", path.join(ROOT, "bench/sql/minimal.sql")]);
  log("minimal transfer, then the service's");
  R.minimal_one = one("minimal_one.sql");
  R.minimal_batch100 = batch("minimal_batch100.sql");
  R.transfer_one = one("transfer_one.sql");
  R.transfer_batch100 = batch("transfer_batch100.sql");
  log("one part at a time");
  R.client_ids_one = one("transfer_one_fixedid.sql");
  R.client_ids_batch100 = batch("transfer_batch100_fixedid.sql");
  R.with_key_one = one("transfer_one_key.sql");
  R.rows_returned_one = one("transfer_one_rows.sql");
  log("without the change log row (bench database only)");
  const logFn = psql(DB, "select pg_get_functiondef('wallet_log_changes'::regproc)");
  psql(
    DB,
    "create or replace function wallet_log_changes(p_rows journal[], p_accepted integer default 0) returns void language sql as $$ select $$",
  );
  R.no_change_log_one = one("transfer_one_fixedid.sql");
  R.no_change_log_batch100 = batch("transfer_batch100_fixedid.sql");
  psql(DB, logFn);
  log("without journal_kind_idx (history), then without journal_id_idx too (lookups by id)");
  psql(DB, "drop index journal_kind_idx");
  R.no_kind_idx_one = one("transfer_one_fixedid.sql");
  psql(DB, "drop index journal_id_idx");
  R.no_kind_no_id_idx_one = one("transfer_one_fixedid.sql");
  R.no_kind_no_id_idx_batch100 = batch("transfer_batch100_fixedid.sql");
} finally {
  dropDb(DB);
}

results.ratios = {
  service_vs_minimal_one: ratio(R.transfer_one.per_s, R.minimal_one.per_s),
  service_vs_minimal_batch100: ratio(R.transfer_batch100.per_s, R.minimal_batch100.per_s),
  service_client_ids_vs_minimal_one: ratio(R.client_ids_one.per_s, R.minimal_one.per_s),
  service_client_ids_vs_minimal_batch100: ratio(R.client_ids_batch100.per_s, R.minimal_batch100.per_s),
  client_ids_vs_sequence_one: ratio(R.client_ids_one.per_s, R.transfer_one.per_s),
  key_vs_none_one: ratio(R.with_key_one.per_s, R.client_ids_one.per_s),
  rows_vs_count_one: ratio(R.rows_returned_one.per_s, R.client_ids_one.per_s),
  no_change_log_vs_with_one: ratio(R.no_change_log_one.per_s, R.client_ids_one.per_s),
  no_change_log_vs_with_batch100: ratio(R.no_change_log_batch100.per_s, R.client_ids_batch100.per_s),
  no_kind_idx_vs_with_one: ratio(R.no_kind_idx_one.per_s, R.client_ids_one.per_s),
  no_secondary_idx_vs_with_one: ratio(R.no_kind_no_id_idx_one.per_s, R.client_ids_one.per_s),
  no_secondary_idx_vs_with_batch100: ratio(R.no_kind_no_id_idx_batch100.per_s, R.client_ids_batch100.per_s),
};
writeResult(`sql-cost-${results.date.slice(0, 10)}`, results);
process.stdout.write(JSON.stringify({ runs: R, ratios: results.ratios }, null, 2) + "\n");
