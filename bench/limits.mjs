#!/usr/bin/env node
// What limits cost a transfer, in SQL, with pgbench, same run, interleaved rounds on
// three databases of the same users: "before" (migrations up to 008: no limits
// exist), "none" (010: every user in the default tier, which has no limits: the
// counters are still kept) and "tier" (010: every user in a tier with every limit set
// in USD, high enough never to refuse: each transfer is judged against four limits and
// the receiver against max_balance). One transfer per commit (64 clients) and 100 per
// commit (8 clients), through wallet_apply as the service calls it.
//   node bench/limits.mjs      Env: DURATION (s per run, 8), ROUNDS (4), USERS (1000), PG_ADMIN_URL
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { dropDb, log, machine, pgbench, pgArgs, psql, ratio, sh, dbUrl, writeResult } from "./lib.mjs";
import { openDatabase } from "../dist/core/db/index.js";
import { MIGRATIONS_DIR, migrateLatest } from "../dist/core/migrate.js";

const DURATION = Number(process.env.DURATION ?? 8);
const ROUNDS = Number(process.env.ROUNDS ?? 4);
const USERS = Number(process.env.USERS ?? 1000);
const CONFIGS = ["before", "none", "tier"];
const db = (c) => `wallet_limits_${c}_${process.pid}`;

async function migrate(name, dir) {
  sh("dropdb", [...pgArgs, "--if-exists", "--force", name]);
  sh("createdb", [...pgArgs, name]);
  const d = await openDatabase({ databaseUrl: dbUrl(name) });
  try {
    await migrateLatest(d, dir);
  } finally {
    await d.close();
  }
  // the same users and balances everywhere (plain SQL: the "before" schema must stay as it is)
  psql(
    name,
    `insert into users (user_id) select g from generate_series(1, ${USERS}) g;
     insert into wallets (user_id, currency, balance) select g, 'USD', 1000000000 from generate_series(1, ${USERS}) g`,
  );
  psql(name, "vacuum analyze");
}

const before = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-008-"));
for (const f of fs.readdirSync(MIGRATIONS_DIR).filter((f) => /^00[1-8]_.*\.sql$/.test(f))) {
  fs.copyFileSync(path.join(MIGRATIONS_DIR, f), path.join(before, f));
}
const results = { date: new Date().toISOString(), machine: machine(), settings: { DURATION, ROUNDS, USERS }, runs: {} };
try {
  await migrate(db("before"), before);
  await migrate(db("none"), MIGRATIONS_DIR);
  await migrate(db("tier"), MIGRATIONS_DIR);
  const big = 9_000_000_000_000;
  psql(
    db("tier"),
    `select wallet_define_tier(1, 'bench', jsonb_build_object('USD', jsonb_build_object(
       'max_debit', ${big}, 'daily_debit_amount', ${big}, 'daily_debit_count', ${big},
       'monthly_debit_amount', ${big}, 'max_balance', ${big})), 'bench');
     update users set tier = 'bench'`,
  );
  for (const c of CONFIGS) results.runs[c] = { one: [], batch100: [] };
  for (let r = 0; r < ROUNDS; r++) {
    // a different order each round: drift of the shared machine falls on every configuration
    const order = CONFIGS.map((_, i) => CONFIGS[(i + r) % CONFIGS.length]);
    for (const c of order) {
      const one = pgbench(db(c), "transfer_one.sql", { duration: DURATION, users: USERS });
      const batch = pgbench(db(c), "transfer_batch100.sql", { duration: DURATION, users: USERS, clients: 8, per: 100 });
      results.runs[c].one.push(one.per_s);
      results.runs[c].batch100.push(batch.per_s);
      log(`round ${r + 1} ${c}: one ${one.per_s}/s, batch100 ${batch.per_s}/s`);
    }
  }
  const refused = psql(db("tier"), "select count(*) from journal where event = 5");
  if (refused !== "0") throw new Error(`the tier refused ${refused} transfers`);
} finally {
  for (const c of CONFIGS) dropDb(db(c));
  fs.rmSync(before, { recursive: true, force: true });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const m = (c, k) => median(results.runs[c][k]);
results.medians = Object.fromEntries(CONFIGS.map((c) => [c, { one: m(c, "one"), batch100: m(c, "batch100") }]));
results.ratios = {
  none_vs_before_one: ratio(m("none", "one"), m("before", "one")),
  tier_vs_before_one: ratio(m("tier", "one"), m("before", "one")),
  tier_vs_none_one: ratio(m("tier", "one"), m("none", "one")),
  none_vs_before_batch100: ratio(m("none", "batch100"), m("before", "batch100")),
  tier_vs_before_batch100: ratio(m("tier", "batch100"), m("before", "batch100")),
  tier_vs_none_batch100: ratio(m("tier", "batch100"), m("none", "batch100")),
};
writeResult(`limits-${results.date.slice(0, 10)}`, results);
process.stdout.write(JSON.stringify({ medians: results.medians, ratios: results.ratios }, null, 2) + "\n");
