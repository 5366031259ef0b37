/**
 * Prometheus's own tools, run for real: promtool, and a private Prometheus on a free
 * port with storage of its own, scraping the processes a test starts with the jobs
 * and alerts of deploy/prometheus. Also what a Grafana dashboard asks of Prometheus.
 */
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { request } from "undici";
import { parse, stringify } from "yaml";
import { ROOT } from "./cli.js";

export const PROMTOOL = process.env.PROMTOOL_PATH ?? "/usr/bin/promtool";
export const PROMETHEUS = process.env.PROMETHEUS_PATH ?? "/usr/bin/prometheus";
export const PROM_DIR = path.join(ROOT, "deploy/prometheus");
export const DASHBOARD = path.join(ROOT, "deploy/grafana/dashboards/wallet.json");

/**
 * Ports free now (the kernel's pick), for processes that cannot be told to take port 0.
 * Held together until all are picked, so that no two are the same.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<net.Server>((resolve, reject) => {
          const srv = net.createServer().listen(0, "127.0.0.1", () => resolve(srv));
          srv.on("error", reject);
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as net.AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

export function promtool(args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(PROMTOOL, args, { cwd: PROM_DIR }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, output: stdout + stderr });
    });
  });
}

/**
 * deploy/prometheus/prometheus.yml with its jobs pointed at local addresses (the compose
 * file finds them by DNS): the same job names and rule files, a faster scrape.
 */
export function localConfig(targets: Record<string, string[]>, interval = "1s"): Record<string, any> {
  const config = parse(fs.readFileSync(path.join(PROM_DIR, "prometheus.yml"), "utf8")) as Record<string, any>;
  config.global = {
    ...config.global,
    scrape_interval: interval,
    scrape_timeout: interval,
    evaluation_interval: interval,
  };
  config.rule_files = (config.rule_files as string[]).map((f) => path.resolve(PROM_DIR, f));
  for (const job of config.scrape_configs as Record<string, any>[]) {
    const local = targets[job.job_name as string];
    if (!local) throw new Error(`no local target for job ${job.job_name}`);
    delete job.dns_sd_configs;
    job.static_configs = [{ targets: local }];
  }
  return config;
}

export type Series = { metric: Record<string, string>; values: [number, string][] };

export type PrivatePrometheus = {
  url: string;
  logs: string[];
  api(pathAndQuery: string): Promise<any>;
  queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]>;
  /** until the query answers something now */
  waitFor(expr: string): Promise<void>;
  stop(): Promise<void>;
};

export async function startPrometheus(config: Record<string, any>): Promise<PrivatePrometheus> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "wallet-prometheus-"));
  const file = path.join(dir, "prometheus.yml");
  fs.writeFileSync(file, stringify(config));
  const [port] = await freePorts(1);
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS,
    [
      `--config.file=${file}`,
      `--storage.tsdb.path=${path.join(dir, "data")}`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=warn",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: string[] = [];
  child.stdout!.on("data", (d: Buffer) => logs.push(d.toString()));
  child.stderr!.on("data", (d: Buffer) => logs.push(d.toString()));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
    fs.rmSync(dir, { recursive: true, force: true });
  };
  async function api(pathAndQuery: string): Promise<any> {
    const res = await request(url + pathAndQuery);
    const body = (await res.body.json()) as { status: string; data: unknown; error?: string };
    if (body.status !== "success") throw new Error(`${pathAndQuery}: ${body.error}`);
    return body.data;
  }
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`prometheus exited:\n${logs.join("")}`);
      const ok = await request(`${url}/-/ready`).then(
        async (r) => (await r.body.text(), r.statusCode === 200),
        () => false,
      );
      if (ok) break;
      if (i > 300) throw new Error(`prometheus not ready:\n${logs.join("")}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  async function queryRange(expr: string, start: number, end: number, step: number): Promise<Series[]> {
    const q = new URLSearchParams({ query: expr, start: String(start), end: String(end), step: String(step) });
    return ((await api(`/api/v1/query_range?${q}`)) as { result: Series[] }).result;
  }
  return {
    url,
    logs,
    api,
    queryRange,
    async waitFor(expr) {
      for (let i = 0; ; i++) {
        const now = Date.now() / 1000;
        if ((await queryRange(expr, now, now, 1)).length > 0) return;
        if (i > 150) throw new Error(`Prometheus never saw ${expr}:\n${logs.join("")}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    stop,
  };
}

export type PanelQuery = { panel: string; expr: string };

/** Every query of every panel, rows' nested panels included. */
export function dashboardQueries(dashboard: { panels?: any[] }): PanelQuery[] {
  const out: PanelQuery[] = [];
  const walk = (panels: any[] = []) => {
    for (const p of panels) {
      for (const t of p.targets ?? []) if (t.expr) out.push({ panel: p.title, expr: t.expr });
      walk(p.panels);
    }
  };
  walk(dashboard.panels);
  return out;
}

/** What Grafana would send: its interval macros as fixed windows, variables at their "All" value. */
export function substitute(expr: string, vars: Record<string, string>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]/g, (whole, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = vars[name];
    if (value === undefined) throw new Error(`no value for ${whole} in ${expr}`);
    return value;
  });
}

// PromQL's functions, aggregations and keywords: any other word in a query names a metric or a label
const PROMQL_WORDS = new Set(
  (
    "sum min max avg count stddev stdvar topk bottomk quantile count_values group by without on ignoring " +
    "group_left group_right and or unless offset bool rate irate increase delta idelta deriv predict_linear " +
    "histogram_quantile vector scalar time absent absent_over_time max_over_time min_over_time avg_over_time " +
    "sum_over_time count_over_time last_over_time clamp_min clamp_max abs label_replace changes resets inf nan"
  ).split(" "),
);

/** The words of a query that are neither PromQL nor a string, nor a number or a duration. */
export function identifiers(expr: string): string[] {
  const bare = expr.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  const words = bare.match(/(?<![\w.:])[a-zA-Z_:][\w:]*/g) ?? [];
  return [...new Set(words.filter((w) => !PROMQL_WORDS.has(w.toLowerCase())))];
}
