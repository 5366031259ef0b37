/** The loadtest's answer for people: one table, then on a terminal the run drawn in charts. */
import chalk from "chalk";
import Table from "cli-table3";
import type { AsyncReport, LedgerReport } from "./check.js";
import type { LoadResult } from "./run.js";
import { latencyChart, throughputChart } from "./terminalCharts.js";

export type LoadReport = Omit<LoadResult, "lastAcceptedBySender"> & {
  target: string;
  users: number;
  async?: AsyncReport;
  ledger?: LedgerReport;
};

const list = (o: Record<string, number>) =>
  Object.entries(o)
    .map(([k, v]) => `${k}: ${v}`)
    .join(", ");

export function renderReport(r: LoadReport): string {
  const t = new Table({ style: { head: [], border: [] } });
  t.push(
    ["scenario", r.scenario],
    ["requests", r.requests.toLocaleString()],
    ["throughput", `${r.throughput_rps.toLocaleString()} req/s`],
    [
      "latency p50 / p90 / p99 / max",
      `${r.latency_ms.p50} / ${r.latency_ms.p90} / ${r.latency_ms.p99} / ${r.latency_ms.max} ms`,
    ],
    ["statuses", list(r.statuses)],
    ["errors", Object.keys(r.errors).length ? list(r.errors) : "none"],
  );
  if (r.payments > 0) t.push(["payments (hold + capture)", `${r.payments_rps.toLocaleString()}/s`]);
  if (r.exchanges > 0) t.push(["exchanges (quote + exchange)", `${r.exchanges_rps.toLocaleString()}/s`]);
  if (r.batch_operations_rps > 0) {
    const per = `${r.batch_operations_rps.toLocaleString()} transfers/s in batches of 10`;
    t.push(["batched vs single", `${per}; ${r.single_transfers_rps.toLocaleString()} single transfers/s`]);
  }
  const a = r.async;
  if (a) {
    const latency = a.completion_latency_ms
      ? `, accept->done p50 ${a.completion_latency_ms.p50} ms, p99 ${a.completion_latency_ms.p99} ms`
      : "";
    t.push(["async completion", `${a.completion_rps.toLocaleString()} transfers/s${latency}`]);
  }
  const l = r.ledger;
  if (l) {
    t.push([
      "ledger",
      l.ok
        ? chalk.green(`ok: total ${l.total_after} as expected, verify ${String(l.verify)}`)
        : chalk.red(`FAILED: ${JSON.stringify(l)}`),
    ]);
  }
  return t.toString();
}

/** The table, then throughput over time and the latency distribution, in `width` columns (at most 100). */
export function renderReportWithCharts(r: LoadReport, width = 100): string {
  const w = Math.max(60, Math.min(100, width));
  return [renderReport(r), throughputChart(r.timeline, w), latencyChart(r.latency_distribution, w)]
    .filter(Boolean)
    .join("\n\n");
}
