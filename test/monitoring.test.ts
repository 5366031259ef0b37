/**
 * Monitoring, checked with Prometheus's own tools: promtool passes the config and the
 * rules, and a unit test per alert that fires on trouble and stays quiet when healthy;
 * every alert has a runbook entry. Then a real Prometheus scrapes a live `wallet serve`
 * and `wallet worker` under load, with the jobs and alerts of deploy/prometheus, and
 * answers every query of the Grafana dashboard with data.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "./helpers/cli.js";
import { processDatabase } from "./helpers/db.js";
import { engine } from "./helpers/env.js";
import { startProcess, type ServeProcess } from "./helpers/process.js";
import {
  DASHBOARD,
  dashboardQueries,
  freePorts,
  identifiers,
  localConfig,
  PROM_DIR,
  PROMETHEUS,
  promtool,
  PROMTOOL,
  startPrometheus,
  substitute,
  type PrivatePrometheus,
} from "./helpers/prometheus.js";
import { PrivateRedis } from "./helpers/redis.js";
import { startReceiver, type Receiver } from "./helpers/receiver.js";
import { call, get, post } from "./helpers/server.js";

type Rule = { alert: string; expr: string; labels?: Record<string, string>; annotations?: Record<string, string> };
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");
const rules = (parse(read("deploy/prometheus/alerts.yml")) as { groups: { rules: Rule[] }[] }).groups.flatMap(
  (g) => g.rules,
);
const dashboard = JSON.parse(fs.readFileSync(DASHBOARD, "utf8")) as { panels: any[]; templating: { list: any[] } };
const compose = parse(read("docker-compose.yml"), { merge: true }) as { services: Record<string, any> };

const ALERTS = [
  "WalletTargetDown",
  "WalletHighErrorRate",
  "WalletHighLatency",
  "WalletAsyncBacklogOld",
  "WalletDeadLetters",
  "WalletEventsBacklogOld",
  "WalletWebhookBacklogOld",
  "WalletRedisDegraded",
  "WalletDbPoolSaturated",
  "WalletEventLoopLag",
  "WalletMemoryGrowth",
];

// the files do not depend on the engine: checked once, in the project that also runs the live test
describe.skipIf(engine !== "pg")("deploy/prometheus and deploy/grafana", () => {
  it("promtool finds the config and the rules valid", async () => {
    expect(fs.existsSync(PROMTOOL), `promtool is needed at ${PROMTOOL} (apt-get install prometheus)`).toBe(true);
    const config = await promtool(["check", "config", "prometheus.yml"]);
    expect(config.code, config.output).toBe(0);
    expect(config.output).toContain("SUCCESS: 1 rule files found");
    const checked = await promtool(["check", "rules", "alerts.yml"]);
    expect(checked.code, checked.output).toBe(0);
    expect(checked.output).toContain(`SUCCESS: ${ALERTS.length} rules found`);
  });

  it("has each alert asked for, with a severity, a summary and a runbook entry in docs/operations.md", () => {
    expect(rules.map((r) => r.alert).sort()).toEqual([...ALERTS].sort());
    const headings = read("docs/operations.md").match(/^#+ .+$/gm) ?? [];
    const slug = (title: string) =>
      title
        .toLowerCase()
        .replace(/[^\w\- ]/g, "")
        .replace(/ /g, "-");
    const anchors = headings.map((h) => slug(h.replace(/^#+ /, "")));
    for (const r of rules) {
      expect(r.labels?.severity, r.alert).toMatch(/^(page|ticket)$/);
      expect(r.annotations?.summary, r.alert).toBeTruthy();
      const [file, anchor] = r.annotations!.runbook_url!.split("#");
      expect(file, r.alert).toBe("docs/operations.md");
      expect(anchors, r.alert).toContain(anchor);
    }
  });

  it("passes promtool's unit tests, which make every alert fire and stay quiet", async () => {
    type Case = { alertname: string; exp_alerts: unknown[] };
    const tests = (parse(fs.readFileSync(path.join(PROM_DIR, "alerts.test.yml"), "utf8")) as { tests: any[] }).tests;
    const cases = tests.flatMap((t) => t.alert_rule_test as Case[]);
    for (const name of ALERTS) {
      expect(
        cases.some((c) => c.alertname === name && c.exp_alerts.length > 0),
        `${name} fires`,
      ).toBe(true);
      expect(
        cases.some((c) => c.alertname === name && c.exp_alerts.length === 0),
        `${name} quiet`,
      ).toBe(true);
    }
    const r = await promtool(["test", "rules", "alerts.test.yml"]);
    expect(r.code, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });

  it("provisions Grafana with the compose file's Prometheus and a dashboard that uses it", () => {
    const [source] = parse(read("deploy/grafana/provisioning/datasources/prometheus.yml")).datasources;
    const url = new URL(source.url);
    expect(compose.services[url.hostname]?.image).toMatch(/^prom\/prometheus:/);
    expect(compose.services.prometheus.ports).toContain(`${url.port}:${url.port}`);
    const [provider] = parse(read("deploy/grafana/provisioning/dashboards/wallet.yml")).providers;
    expect(compose.services.grafana.volumes).toContain(`./deploy/grafana/dashboards:${provider.options.path}:ro`);
    const ids = new Set<number>();
    const walk = (panels: any[] = []): void => {
      for (const p of panels) {
        expect(ids.has(p.id), `panel id ${p.id}`).toBe(false);
        ids.add(p.id);
        expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
        if (p.type !== "row") expect(p.targets?.length, p.title).toBeGreaterThan(0);
        for (const d of [p.datasource, ...(p.targets ?? []).map((t: any) => t.datasource)].filter(Boolean)) {
          expect(d.uid, p.title).toBe(source.uid);
        }
        walk(p.panels);
      }
    };
    walk(dashboard.panels);
    expect(ids.size).toBeGreaterThan(20);
  });
});

/** A day, briefly: money moving every way the dashboard shows, a refusal, a replay, reads refused 429. */
async function load(base: string): Promise<void> {
  for (const user of [1, 2, 3, 4])
    expect((await post(base, "/api/deposit/v1", user, { amount: 10_000 })).status).toBe(200);
  for (let i = 0; i < 5; i++) {
    expect((await post(base, "/api/transfer/v1", 1, { destination_user_id: 2, amount: 100 })).status).toBe(200);
  }
  const key = { "Idempotency-Key": "monitoring-replayed" };
  for (let i = 0; i < 2; i++) {
    expect((await post(base, "/api/transfer/v1", 2, { destination_user_id: 3, amount: 50 }, key)).status).toBe(200);
  }
  expect((await post(base, "/api/withdraw/v1", 4, { amount: 1_000_000 })).status).toBe(422);
  const v2 = await post(base, "/api/transfer/v2", 3, { destination_user_id: 4, amount: 250 });
  expect(v2.status).toBe(202);
  for (const user of [1, 2, 3]) {
    for (let i = 0; i < 3; i++) expect((await get(base, "/api/wallet/balance/v1", user)).status).toBe(200);
  }
  const burst = await Promise.all(Array.from({ length: 40 }, () => get(base, "/api/wallet/balance/v1", 9)));
  expect(burst.filter((r) => r.status === 429).length).toBeGreaterThan(0);
  for (let i = 0; ; i++) {
    const t = await get(base, `/api/transfer/v2/${v2.body.transfer_id}`, 3);
    if (t.body.status === "completed") break;
    if (i > 200) throw new Error(`the worker did not apply the v2 transfer: ${JSON.stringify(t.body)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe.skipIf(engine !== "pg")("Prometheus scraping a live API and worker", () => {
  let drop: (() => Promise<void>) | undefined;
  let redis: PrivateRedis | undefined;
  let api: ServeProcess | undefined;
  let worker: ServeProcess | undefined;
  let prom: PrivatePrometheus;
  let from: number;
  let receiver: Receiver | undefined;

  beforeAll(async () => {
    expect(fs.existsSync(PROMETHEUS), `Prometheus is needed at ${PROMETHEUS} (apt-get install prometheus)`).toBe(true);
    from = Math.floor(Date.now() / 1000);
    const db = await processDatabase();
    drop = db.drop;
    redis = await PrivateRedis.create();
    const [apiMetrics, workerMetrics] = await freePorts(2);
    const admin = "m".repeat(40);
    const env = {
      ...db.env,
      REDIS_URL: redis.url,
      LOG_LEVEL: "info",
      ADMIN_TOKEN: admin,
      WEBHOOK_ALLOW_PRIVATE: "true",
    };
    api = await startProcess("serve", {
      ...env,
      METRICS_PORT: String(apiMetrics),
      TRANSFER_WORKERS: "0",
      RATE_LIMIT_RPS: "20",
      RATE_LIMIT_BURST: "20",
    });
    worker = await startProcess("worker", { ...env, METRICS_PORT: String(workerMetrics), TRANSFER_WORKERS: "2" });
    prom = await startPrometheus(
      localConfig({ "wallet-api": [`127.0.0.1:${apiMetrics}`], "wallet-worker": [`127.0.0.1:${workerMetrics}`] }),
    );
    // a webhook endpoint on loopback: the load's events are delivered to it
    receiver = await startReceiver();
    const hook = await call(api.url, "POST", "/admin/v1/webhooks", {
      headers: { authorization: `Bearer ${admin}`, "x-actor": "monitoring" },
      body: { url: receiver.url },
    });
    expect(hook.status).toBe(201);
    // a rate needs a series seen twice: load once the targets are scraped, and again after some scrapes
    await prom.waitFor('sum(up{job=~"wallet-.*"}) == 2');
    await load(api.url);
    await new Promise((r) => setTimeout(r, 2500));
    await load(api.url);
    await prom.waitFor(
      'wallet_async_transfers_total{outcome="completed"} > 1 and on () wallet_rate_limited_total > 20',
    );
    await new Promise((r) => setTimeout(r, 3000));
  }, 120_000);

  afterAll(async () => {
    await prom?.stop();
    const codes = await Promise.all([worker?.stop(), api?.stop()]);
    await receiver?.close();
    await redis?.stop();
    await drop?.();
    expect(codes).toEqual([0, 0]);
  });

  it("answers every query of every dashboard panel with data", async () => {
    const end = Math.ceil(Date.now() / 1000);
    const vars = { __rate_interval: "10s", __interval: "2s", __range: `${end - from}s`, instance: ".*" };
    const queries = dashboardQueries(dashboard);
    expect(queries.length).toBeGreaterThan(25);
    const empty: string[] = [];
    for (const q of queries) {
      const series = await prom.queryRange(substitute(q.expr, vars), from, end, 1);
      if (!series.some((s) => s.values.some(([, v]) => Number.isFinite(Number(v)))))
        empty.push(`${q.panel}: ${q.expr}`);
    }
    expect(empty).toEqual([]);
    // the instance variable lists both processes
    const variable = /^label_values\((.+), instance\)$/.exec(dashboard.templating.list[0].definition)![1]!;
    const targets = await prom.queryRange(variable, end, end, 1);
    expect(targets.map((s) => s.metric.job).sort()).toEqual(["wallet-api", "wallet-worker"]);
  });

  it("names only metrics and labels the processes export, in every panel and every alert", async () => {
    const known = new Set([
      ...((await prom.api("/api/v1/label/__name__/values")) as string[]),
      ...((await prom.api("/api/v1/labels")) as string[]),
    ]);
    const vars = { __rate_interval: "1m", __interval: "1m", __range: "1h", instance: ".*" };
    const queries = [
      ...dashboardQueries(dashboard).map((q) => ({ ...q, expr: substitute(q.expr, vars) })),
      ...rules.map((r) => ({ panel: r.alert, expr: r.expr })),
    ];
    const unknown = queries.flatMap((q) =>
      identifiers(q.expr)
        .filter((w) => !known.has(w))
        .map((w) => `${q.panel}: ${w}`),
    );
    expect(unknown).toEqual([]);
  });

  it("evaluates every alert rule without error, and none fires on a healthy service", async () => {
    const { groups } = (await prom.api("/api/v1/rules")) as { groups: { rules: any[] }[] };
    const loaded = groups.flatMap((g) => g.rules);
    expect(loaded.map((r) => r.name).sort()).toEqual([...ALERTS].sort());
    for (const r of loaded) expect(r.health, `${r.name}: ${r.lastError}`).toBe("ok");
    expect(loaded.filter((r) => r.state === "firing").map((r) => r.name)).toEqual([]);
    const { activeTargets } = (await prom.api("/api/v1/targets")) as { activeTargets: any[] };
    expect(activeTargets.map((t) => `${t.labels.job} ${t.health}`).sort()).toEqual([
      "wallet-api up",
      "wallet-worker up",
    ]);
  });
});
