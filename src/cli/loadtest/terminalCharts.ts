/**
 * The run drawn in a terminal: throughput second by second (asciichart) with a strip
 * of errors under it, and the latency histogram with its percentiles. Pure: they
 * return text no wider than `width` (colour, if any, comes from chalk's level).
 */
import asciichart from "asciichart";
import chalk from "chalk";
import type { LatencyDistribution } from "./distribution.js";
import type { Timeline } from "./run.js";

const BLOCKS = " ▁▂▃▄▅▆▇█";
const EIGHTHS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];
// asciichart's y labels, a space, then the axis, on which the first second is drawn
const LABEL = 9;
const PLOT_AT = LABEL + 1;

const num = (n: number) => Math.round(n).toLocaleString();
// not Math.max(...v): a day-long run has more seconds than a call takes arguments
const most = (v: number[]) => v.reduce((a, b) => Math.max(a, b), 0);
const least = (v: number[]) => v.reduce((a, b) => Math.min(a, b), Infinity);
const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);

/** 0.412, 1.23, 12.3, 123, 1,234 */
export function fmtMs(ms: number): string {
  return ms >= 100 ? num(ms) : String(Number(ms.toPrecision(3)));
}

/** One character a value, in eighths of `max`; zero is `zero` (a blank keeps a strip of rare events readable). */
export function sparkline(values: number[], max = most(values), zero = " "): string {
  return values.map((v) => (v <= 0 || max <= 0 ? zero : BLOCKS[Math.max(1, Math.round((v / max) * 8))])).join("");
}

/** A horizontal bar of `value` on a scale where `max` fills `width` columns, to the eighth of a column. */
export function bar(value: number, max: number, width: number): string {
  if (max <= 0 || value <= 0) return "";
  const eighths = Math.max(1, Math.round((value / max) * width * 8));
  return "█".repeat(Math.floor(eighths / 8)) + EIGHTHS[eighths % 8];
}

/**
 * The series on `columns` columns: each second spread over as many columns as fall in
 * it when there are fewer seconds than columns (steps: the counts are per second),
 * else seconds averaged per column.
 */
export function resample(values: number[], columns: number): number[] {
  if (values.length === 0 || columns <= 0) return [];
  if (values.length <= columns) {
    return Array.from({ length: columns }, (_, c) => values[Math.floor((c * values.length) / columns)]!);
  }
  const per = Math.ceil(values.length / columns);
  const out: number[] = [];
  for (let i = 0; i < values.length; i += per) {
    const group = values.slice(i, i + per);
    out.push(group.reduce((a, b) => a + b, 0) / group.length);
  }
  return out;
}

const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1800, 3600];

/** Seconds under the plot, on round steps far enough apart to read, and the run's end. */
export function timeAxis(columns: number, seconds: number): string {
  const perSecond = columns / seconds;
  const step = STEPS.find((s) => s * perSecond >= 12) ?? Math.ceil(12 / perSecond);
  const end = `${seconds} s`;
  let line = "";
  for (let s = 0; s < seconds; s += step) {
    const at = Math.round(s * perSecond);
    // a tick too close to the end label gives way to it
    if (at + `${s} s`.length + 2 > columns - end.length) break;
    line = line.padEnd(at) + `${s} s`;
  }
  return " ".repeat(PLOT_AT) + line.padEnd(columns - end.length) + end;
}

export function throughputChart(t: Timeline, width = 100, height = 10): string {
  const seconds = t.requests.length;
  if (seconds === 0) return "";
  // asciichart ends each row with a space; a last column left free keeps terminals from wrapping
  const columns = Math.max(10, width - PLOT_AT - 2);
  const rps = resample(t.requests, columns);
  const errs = resample(t.errors, columns);
  const used = rps.length;
  const peak = most(t.requests);
  const mean = sum(t.requests) / seconds;
  const color = chalk.level > 0;
  const title =
    `${chalk.bold("throughput")}  req/s, each second` +
    chalk.dim(`  (peak ${num(peak)}, mean ${num(mean)}, lowest ${num(least(t.requests))})`);
  const plot = asciichart.plot(rps, {
    height,
    min: 0,
    // at least a unit a row: small counts keep whole-number labels
    max: Math.max(height, peak),
    colors: color ? [asciichart.cyan] : undefined,
    format: (x) => num(x).padStart(LABEL),
  });
  const totalErrors = sum(t.errors);
  const maxErr = most(t.errors);
  let strip = chalk.dim("errors".padStart(LABEL) + " none");
  if (totalErrors > 0) {
    const note = `peak ${num(maxErr)}/s, ${num(totalErrors)} in all`;
    strip = "errors/s".padStart(LABEL) + " " + chalk.red(sparkline(errs));
    // beside the strip when it fits, else on a line of its own
    const fits = PLOT_AT + used + 2 + note.length <= width;
    strip += (fits ? "  " : "\n" + " ".repeat(PLOT_AT)) + chalk.dim(note);
  }
  return [title, plot, timeAxis(used, seconds), strip].join("\n");
}

const range = (b: { from_ms: number; to_ms: number }) => `${fmtMs(b.from_ms)}–${fmtMs(b.to_ms)} ms`;
const pname = (p: number) => (p === 100 ? "max" : `p${p}`);

export function latencyChart(d: LatencyDistribution, width = 100): string {
  const total = sum(d.buckets.map((b) => b.count));
  if (total === 0) return "";
  // each percentile is named on the row of the bucket it falls in (the last one takes what is past it)
  const marks = d.buckets.map(() => [] as string[]);
  for (const p of d.percentiles) {
    const i = d.buckets.findIndex((b) => p.ms <= b.to_ms);
    marks.at(i)!.push(pname(p.p));
  }
  const labelWidth = Math.max(...d.buckets.map((b) => range(b).length)) + 2;
  const countWidth = Math.max(...d.buckets.map((b) => num(b.count).length)) + 2;
  const markWidth = most(marks.map((m) => m.join(" ").length));
  const barWidth = Math.max(10, width - labelWidth - countWidth - 8 - (markWidth ? markWidth + 3 : 0));
  const peak = most(d.buckets.map((b) => b.count));
  const rows = d.buckets.map((b, i) => {
    const pct = `${((b.count / total) * 100).toFixed(1)}%`.padStart(7);
    const mark = marks[i]!.length ? chalk.yellow(` ◂ ${marks[i]!.join(" ")}`) : "";
    return (
      range(b).padStart(labelWidth - 1) +
      " " +
      chalk.cyan(bar(b.count, peak, barWidth).padEnd(barWidth)) +
      num(b.count).padStart(countWidth) +
      chalk.dim(pct) +
      mark
    );
  });
  const items = d.percentiles.map((p) => `${pname(p.p)} ${chalk.bold(fmtMs(p.ms))}`);
  const lines: string[] = [];
  let line = "percentiles (ms)";
  for (const item of items) {
    // wrapped on its visible width
    const visible = (line + "  " + item).replace(/\u001b\[[0-9;]*m/g, "").length;
    if (visible > width - 1) {
      lines.push(line);
      line = " ".repeat(16);
    }
    line += "  " + item;
  }
  lines.push(line);
  const title = `${chalk.bold("latency")}  answered requests by time to answer` + chalk.dim(`  (${num(total)} in all)`);
  return [title, ...rows, ...lines].join("\n");
}
