#!/usr/bin/env node
// Webhooks and balance monitors, each against a baseline of the same run:
// 1. monitors' hook in SQL: transfers per second (pgbench, bench/sql/transfer_one.sql)
//    with the trigger dropped ("before": no hook), with it and no monitor ("after"),
//    and with a monitor on every wallet that never crosses ("monitored"); rounds
//    alternate, medians reported.
// 2. deliveries per second: EVENTS deposits written in one statement, then the time
//    until a node:http receiver on loopback has accepted them all (one `wallet serve`).
// 3. transfer v1 over HTTP (wallet loadtest) with no endpoint and with three endpoints
//    subscribed to every event (three local receivers), alternating rounds.
//   node bench/webhooks.mjs     (after npm run build, with PostgreSQL on 127.0.0.1)
// Env: ROUNDS (3), DURATION (5 s per round), USERS (1000), EVENTS (2000), OUT.
import http from "node:http";
import { request } from "undici";
import { dropDb, freshDb, loadtest, log, machine, pgbench, psql, ratio, serve, stop, writeResult } from "./lib.mjs";

const ROUNDS = Number(process.env.ROUNDS ?? 3);
const DURATION = Number(process.env.DURATION ?? 5);
const USERS = Number(process.env.USERS ?? 1000);
const EVENTS = Number(process.env.EVENTS ?? 2000);
const TOKEN = "b".repeat(40);
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

function receiver() {
  let n = 0;
  const server = http.createServer((req, res) => {
    req.resume();
    req.on("end", () => {
      n++;
      res.writeHead(204).end();
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${server.address().port}/`,
        count: () => n,
        close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))),
      }),
    ),
  );
}

async function admin(url, method, path, body) {
  const r = await request(url + path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "x-actor": "bench", "content-type": "application/json" },
    body: body && JSON.stringify(body),
  });
  const text = await r.body.text();
  return text ? JSON.parse(text) : undefined;
}

async function sqlCost() {
  const dbs = { before: "wh_bench_before", after: "wh_bench_after", monitored: "wh_bench_monitored" };
  for (const db of Object.values(dbs)) freshDb(db, USERS);
  psql(dbs.before, "drop trigger users_monitors on users");
  psql(dbs.monitored, "select count(wallet_monitor_create(user_id, 'USD', 'balance', 'lt', 0, 'bench')) from users");
  const tps = { before: [], after: [], monitored: [] };
  for (let r = 0; r < ROUNDS; r++) {
    const order = Object.keys(dbs);
    if (r % 2) order.reverse();
    for (const k of order) {
      tps[k].push(pgbench(dbs[k], "transfer_one.sql", { clients: 32, duration: DURATION, users: USERS }).tps);
      log("sql", k, tps[k].at(-1));
    }
  }
  for (const db of Object.values(dbs)) dropDb(db);
  const m = Object.fromEntries(Object.entries(tps).map(([k, v]) => [k, median(v)]));
  return {
    transfers_per_s: m,
    rounds: tps,
    after_vs_before: ratio(m.after, m.before),
    monitored_vs_before: ratio(m.monitored, m.before),
  };
}

async function delivery() {
  const db = "wh_bench_http";
  freshDb(db, USERS);
  const server = await serve(db, { ADMIN_TOKEN: TOKEN, WEBHOOK_ALLOW_PRIVATE: "true", TRANSFER_WORKERS: "0" });
  const out = {};
  try {
    // deliveries per second: EVENTS events written at once, one endpoint
    const rx = await receiver();
    const hook = await admin(server.url, "POST", "/admin/v1/webhooks", { url: rx.url });
    const t0 = performance.now();
    psql(
      db,
      `select count(*) from wallet_apply((select jsonb_agg(jsonb_build_object('k', 1, 'cur', 'USD',
         'id', wallet_next_id()::text, 'u', (i % ${USERS}) + 1, 'a', 1)) from generate_series(1, ${EVENTS}) i))`,
    );
    while (rx.count() < EVENTS) await new Promise((r) => setTimeout(r, 20));
    const seconds = (performance.now() - t0) / 1000;
    out.deliveries_per_s = Math.round(EVENTS / seconds);
    log("deliveries/s", out.deliveries_per_s);
    await admin(server.url, "DELETE", `/admin/v1/webhooks/${hook.id}`);
    await rx.close();

    // transfers over HTTP with none, then three endpoints
    const rounds = { none: [], three: [] };
    for (let r = 0; r < ROUNDS; r++) {
      const order = r % 2 ? ["three", "none"] : ["none", "three"];
      for (const k of order) {
        const rxs = k === "three" ? await Promise.all([receiver(), receiver(), receiver()]) : [];
        const hooks = [];
        for (const x of rxs) hooks.push(await admin(server.url, "POST", "/admin/v1/webhooks", { url: x.url }));
        const res = await loadtest(server.url, "transfer", { duration: DURATION, concurrency: 32, users: USERS });
        rounds[k].push(Math.round(res.throughput_rps));
        log("transfer", k, rounds[k].at(-1), rxs.map((x) => x.count()).join("/"));
        for (const h of hooks) await admin(server.url, "DELETE", `/admin/v1/webhooks/${h.id}`);
        for (const x of rxs) await x.close();
      }
    }
    out.transfer_per_s = { none: median(rounds.none), three_endpoints: median(rounds.three) };
    out.transfer_rounds = rounds;
    out.three_vs_none = ratio(out.transfer_per_s.three_endpoints, out.transfer_per_s.none);
  } finally {
    await stop(server);
    dropDb(db);
  }
  return out;
}

const results = { when: new Date().toISOString(), machine: machine(), sql: await sqlCost(), http: await delivery() };
log(JSON.stringify(results, null, 2));
writeResult(process.env.OUT ?? `webhooks-${results.when.slice(0, 10)}`, results);
