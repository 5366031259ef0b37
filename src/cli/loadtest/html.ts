/**
 * `--report FILE.html`: the run as one self-contained page that works offline.
 * Chart.js is inlined from the installed package and a Content-Security-Policy
 * forbids every fetch, so the page never reaches the network.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { chartConfigs } from "./htmlCharts.js";
import type { LoadReport } from "./report.js";
import { fmtMs } from "./terminalCharts.js";

const require = createRequire(import.meta.url);

/** Chart.js's UMD build, read from node_modules at run time. */
function chartJs(): string {
  // the package exports only its entry points; the UMD build sits beside the CommonJS one
  const file = path.join(path.dirname(require.resolve("chart.js")), "chart.umd.js");
  return (
    fs
      .readFileSync(file, "utf8")
      // a source map would be a fetch for whoever opens the developer tools
      .replace(/\/\/# sourceMappingURL=\S+\s*$/, "")
      .replace(/<\/script/gi, "<\\/script")
  );
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
const num = (n: number) => Math.round(n).toLocaleString("en-US");
// JSON inside <script>: nothing in it may close the element
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, "\\u003c");

function table(head: string[], rows: unknown[][]): string {
  const th = head.some(Boolean) ? `<thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr></thead>` : "";
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join("")}</tr>`).join("\n");
  return `<table>${th}<tbody>${trs}</tbody></table>`;
}

function card(label: string, value: string, cls = ""): string {
  return `<div class="card ${cls}"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div></div>`;
}

function ledgerSection(r: LoadReport): string {
  const l = r.ledger;
  if (!l) return `<section><h2>Ledger check</h2><p>Not run: a baseline scenario touches no wallet.</p></section>`;
  const verify = typeof l.verify === "string" ? esc(l.verify) : `<pre>${esc(JSON.stringify(l.verify, null, 2))}</pre>`;
  return `<section><h2>Ledger check <span class="${l.ok ? "ok" : "bad"}">${l.ok ? "ok" : "FAILED"}</span></h2>
${table(
  ["total before", "total after", "expected after"],
  [[num(l.total_before), num(l.total_after), num(l.expected_after)]],
)}
<p>verify: ${verify}</p></section>`;
}

function asyncSection(r: LoadReport): string {
  const a = r.async;
  if (!a) return "";
  const rows: unknown[][] = [
    ["applied", num(a.applied)],
    ["completion rate", `${num(a.completion_rps)} transfers/s`],
  ];
  if (a.completed !== undefined) rows.push(["completed", num(a.completed)]);
  if (a.failed !== undefined) rows.push(["failed", num(a.failed)]);
  const l = a.completion_latency_ms;
  if (l) rows.push(["accepted → done p50 / p90 / p99 / max", `${l.p50} / ${l.p90} / ${l.p99} / ${l.max} ms`]);
  return `<section><h2>Async completion</h2>${table(["", ""], rows)}</section>`;
}

const STYLE = `
:root { font: 15px/1.45 system-ui, sans-serif; color: #1f2937; background: #f8fafc; }
body { max-width: 1100px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 1.6rem; } h1 span { color: #2563eb; }
h2 { font-size: 1.1rem; margin: 0 0 12px; }
.meta { color: #6b7280; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; margin: 0 0 16px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); gap: 12px; margin: 0 0 16px; }
.card { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 12px 16px; }
.card .label { color: #6b7280; font-size: .85rem; } .card .value { font-size: 1.35rem; font-weight: 600; }
.card.ok .value, .ok { color: #15803d; } .card.bad .value, .bad { color: #dc2626; }
.two { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; background: none; border: 0; padding: 0; }
.two > div { background: #fff; border: 1px solid #e5e7eb; border-radius: 8px; padding: 16px 20px; }
@media (max-width: 800px) { .two { grid-template-columns: 1fr; } }
.chart { position: relative; height: 280px; } .chart.tall { height: 340px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 10px 4px 0; border-bottom: 1px solid #f1f5f9; }
th { color: #6b7280; font-weight: 500; } pre { white-space: pre-wrap; font-size: .85rem; }
@media print { :root { background: #fff; } section, .card, .two > div { break-inside: avoid; } }`;

export function renderHtml(r: LoadReport, generatedAt = new Date()): string {
  const requests = r.requests;
  const errorCount = Object.values(r.errors).reduce((a, b) => a + b, 0);
  const lat = r.latency_ms;
  const pcts = r.latency_distribution.percentiles;
  const ledger = r.ledger ? (r.ledger.ok ? ["ok", "ok"] : ["FAILED", "bad"]) : ["not run", ""];
  const statuses = Object.entries(r.statuses).map(([s, n]) => [s, num(n), `${((n / requests) * 100).toFixed(1)}%`]);
  const errors = Object.entries(r.errors).map(([code, n]) => [code, num(n)]);
  const title = `wallet loadtest: ${r.scenario}`;
  const meta = [
    `target ${r.target}`,
    `${r.concurrency} connections`,
    `${r.duration_s} s`,
    `${num(r.users)} wallets`,
    `generated ${generatedAt
      .toISOString()
      .replace("T", " ")
      .replace(/\.\d+Z$/, "Z")}`,
  ].join(" · ");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title><style>${STYLE}</style></head>
<body>
<h1>wallet loadtest <span>${esc(r.scenario)}</span></h1>
<p class="meta">${esc(meta)}</p>
<div class="cards">
${card("requests answered", num(requests))}
${card("throughput", `${num(r.throughput_rps)} req/s`)}
${card("latency p50", `${fmtMs(lat.p50)} ms`)}
${card("latency p99", `${fmtMs(lat.p99)} ms`)}
${card("errors", num(errorCount), errorCount > 0 ? "bad" : "")}
${r.payments > 0 ? card("payments (hold + capture)", `${num(r.payments_rps)}/s`) : ""}
${r.exchanges > 0 ? card("exchanges (quote + exchange)", `${num(r.exchanges_rps)}/s`) : ""}
${card("ledger", ledger[0]!, ledger[1])}
</div>
<section><h2>Throughput over time</h2><div class="chart tall"><canvas id="throughput" role="img" aria-label="requests and errors per second"></canvas></div></section>
<section class="two">
<div><h2>Latency distribution</h2><div class="chart"><canvas id="histogram" role="img" aria-label="answered requests by latency"></canvas></div></div>
<div><h2>Latency percentiles</h2><div class="chart"><canvas id="percentiles" role="img" aria-label="latency percentiles"></canvas></div>
${table(
  ["", ...pcts.map((p) => (p.p === 100 ? "max" : `p${p.p}`)), "mean"],
  [["ms", ...pcts.map((p) => fmtMs(p.ms)), fmtMs(lat.mean)]],
)}</div>
</section>
<section class="two">
<div><h2>Statuses</h2>${statuses.length ? table(["status", "answers", "share"], statuses) : "<p>No answers.</p>"}</div>
<div><h2>Errors</h2>${errors.length ? table(["code", "count"], errors) : '<p class="ok">None.</p>'}</div>
</section>
${ledgerSection(r)}
${asyncSection(r)}
<script>${chartJs()}</script>
<script id="charts" type="application/json">${scriptJson(chartConfigs(r))}</script>
<script>
for (const [id, config] of Object.entries(JSON.parse(document.getElementById("charts").textContent))) {
  new Chart(document.getElementById(id), config);
}
</script>
</body></html>
`;
}

export function writeHtmlReport(file: string, r: LoadReport): void {
  fs.writeFileSync(file, renderHtml(r));
}
