/**
 * The report page's charts as Chart.js configurations: plain data (no functions), so
 * they go into the page as JSON and the page's script only hands them to Chart.js.
 */
import type { ChartConfiguration } from "chart.js";
import { fmtMs } from "./terminalCharts.js";
import type { LoadReport } from "./report.js";

const BLUE = "rgb(37, 99, 235)";
const RED = "rgb(220, 38, 38)";
const AMBER = "rgb(217, 119, 6)";

// a report is read, and printed: no animation, so what shows is the final chart at once
const common = { animation: false, responsive: true, maintainAspectRatio: false } as const;

// second i's count held from i to i + 1: a step for each second, the last one closed at the end
const steps = (v: number[]) => [...v.map((y, x) => ({ x, y })), { x: v.length, y: v.at(-1) ?? 0 }];

function throughput(r: LoadReport): ChartConfiguration<"line"> {
  const t = r.timeline;
  return {
    type: "line",
    data: {
      datasets: [
        {
          label: "requests/s (answered)",
          data: steps(t.requests),
          borderColor: BLUE,
          backgroundColor: "rgba(37, 99, 235, 0.12)",
          fill: true,
          stepped: "before",
          pointRadius: 0,
          yAxisID: "y",
        },
        {
          label: "errors/s",
          data: steps(t.errors),
          borderColor: RED,
          backgroundColor: "rgba(220, 38, 38, 0.15)",
          fill: true,
          stepped: "before",
          pointRadius: 0,
          yAxisID: "errors",
        },
      ],
    },
    options: {
      ...common,
      interaction: { mode: "nearest", axis: "x", intersect: false },
      scales: {
        x: {
          type: "linear",
          min: 0,
          max: t.requests.length,
          ticks: { precision: 0 },
          title: { display: true, text: "seconds into the run" },
        },
        y: { beginAtZero: true, title: { display: true, text: "requests/s" } },
        // errors on their own scale: a few among thousands would be a flat line on the first
        errors: {
          position: "right",
          beginAtZero: true,
          suggestedMax: 1,
          grid: { drawOnChartArea: false },
          title: { display: true, text: "errors/s", color: RED },
          ticks: { color: RED, precision: 0 },
        },
      },
    },
  };
}

function histogram(r: LoadReport): ChartConfiguration<"bar"> {
  const b = r.latency_distribution.buckets;
  return {
    type: "bar",
    data: {
      labels: b.map((x) => `${fmtMs(x.from_ms)}–${fmtMs(x.to_ms)}`),
      datasets: [{ label: "answered requests", data: b.map((x) => x.count), backgroundColor: BLUE }],
    },
    options: {
      ...common,
      plugins: { legend: { display: false } },
      scales: {
        x: { title: { display: true, text: "latency (ms)" } },
        y: { beginAtZero: true, title: { display: true, text: "requests" } },
      },
    },
  };
}

function percentiles(r: LoadReport): ChartConfiguration<"bar"> {
  const p = r.latency_distribution.percentiles;
  return {
    type: "bar",
    data: {
      labels: p.map((x) => (x.p === 100 ? "max" : `p${x.p}`)),
      datasets: [{ label: "latency (ms)", data: p.map((x) => x.ms), backgroundColor: AMBER }],
    },
    options: {
      ...common,
      indexAxis: "y",
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, title: { display: true, text: "ms" } } },
    },
  };
}

/** By the id of the canvas that shows each. */
export function chartConfigs(r: LoadReport): Record<string, ChartConfiguration<"line" | "bar">> {
  return { throughput: throughput(r), histogram: histogram(r), percentiles: percentiles(r) };
}
