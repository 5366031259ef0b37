/**
 * `wallet loadtest` for people: the terminal charts for a given run (pure functions),
 * and the real command's --report page opened in headless Chromium: its charts are
 * drawn, it fetches nothing, and --json keeps every field the bench scripts read.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LatencyDistribution } from "../src/cli/loadtest/distribution.js";
import { liveLine } from "../src/cli/loadtest/live.js";
import type { Timeline } from "../src/cli/loadtest/run.js";
import { latencyChart, resample, sparkline, throughputChart } from "../src/cli/loadtest/terminalCharts.js";
import { ROOT, runCli, type CliResult } from "./helpers/cli.js";
import { engine } from "./helpers/env.js";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const plain = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");
const widest = (s: string) =>
  Math.max(
    ...plain(s)
      .split("\n")
      .map((l) => [...l].length),
  );

const timeline: Timeline = {
  interval_s: 1,
  requests: [900, 1200, 1500, 1480, 1510, 700, 1490, 1500],
  errors: [0, 0, 3, 0, 0, 40, 0, 0],
};
const distribution: LatencyDistribution = {
  percentiles: [
    { p: 50, ms: 1.4 },
    { p: 75, ms: 1.9 },
    { p: 90, ms: 2.6 },
    { p: 95, ms: 3.4 },
    { p: 99, ms: 8.1 },
    { p: 99.9, ms: 24 },
    { p: 100, ms: 61.5 },
  ],
  buckets: [
    { from_ms: 0.7, to_ms: 1, count: 800 },
    { from_ms: 1, to_ms: 2, count: 6100 },
    { from_ms: 2, to_ms: 3, count: 2000 },
    { from_ms: 3, to_ms: 5, count: 900 },
    { from_ms: 5, to_ms: 7, count: 100 },
    { from_ms: 7, to_ms: 10, count: 80 },
    { from_ms: 10, to_ms: 20, count: 10 },
    { from_ms: 20, to_ms: 30, count: 8 },
    { from_ms: 30, to_ms: 50, count: 1 },
    { from_ms: 50, to_ms: 70, count: 1 },
  ],
};

// pure functions and one browser run: one engine is enough
describe.skipIf(engine !== "pglite")("loadtest for people", () => {
  it("draws throughput over time with its errors, within the width", () => {
    for (const width of [100, 72]) {
      const chart = plain(throughputChart(timeline, width));
      const lines = chart.split("\n");
      expect(lines[0]).toMatch(/throughput .*peak 1,510, mean 1,285, lowest 700/);
      expect(lines.filter((l) => /^ *[\d,]+ [┤┼]/.test(l))).toHaveLength(11); // the plot's rows, 0 to the peak
      expect(chart).toMatch(/^ +1,510 [┤┼]/m);
      expect(chart).toMatch(/^ +0 s .* 8 s$/m);
      expect(chart).toMatch(/errors\/s [ ▁▂▃▄▅▆▇█]+/);
      expect(chart).toContain("peak 40/s, 43 in all");
      expect(widest(chart)).toBeLessThan(width);
    }
    expect(plain(throughputChart({ ...timeline, errors: timeline.errors.map(() => 0) }))).toMatch(/errors none$/);
    // a long run is averaged into the columns there are
    const long = plain(throughputChart({ interval_s: 1, requests: Array(600).fill(50), errors: Array(600).fill(0) }));
    expect(widest(long)).toBeLessThan(100);
    expect(long).toMatch(/ 600 s$/m);
  });

  it("draws the latency histogram with its percentiles", () => {
    const chart = plain(latencyChart(distribution, 100));
    const rows = chart.split("\n");
    expect(rows[0]).toMatch(/latency .*10,000 in all/);
    expect(rows).toHaveLength(1 + distribution.buckets.length + 1);
    expect(rows[2]).toMatch(/^ +1–2 ms █+ +6,100 +61\.0% ◂ p50 p75$/);
    expect(rows[3]).toMatch(/2–3 ms .*◂ p90$/);
    expect(rows[10]).toMatch(/50–70 ms ▏ +1 +0\.0% ◂ max$/);
    expect(rows[11]).toBe("percentiles (ms)  p50 1.4  p75 1.9  p90 2.6  p95 3.4  p99 8.1  p99.9 24  max 61.5");
    expect(widest(chart)).toBeLessThan(100);
    expect(latencyChart({ percentiles: [], buckets: [] })).toBe("");
  });

  it("has the pieces right: bars, sparklines, resampling, the live line", () => {
    expect(sparkline([0, 1, 2, 4, 8])).toBe(" ▁▂▄█");
    expect(resample([1, 2], 5)).toEqual([1, 1, 1, 2, 2]);
    expect(resample([1, 3, 5, 7, 9], 2)).toEqual([3, 8]);
    const tick = {
      elapsed_s: 3.02,
      interval_s: 1.01,
      requests: 1515,
      errors: 2,
      total_requests: 4400,
      total_errors: 2,
    };
    const line = plain(liveLine(tick, 10, [900, 1200, 1500], 100));
    expect(line).toMatch(/^ +3\/10 s +1,500 req\/s +errors +2\/s +4,400 answered +▅▆█$/);
    expect(plain(liveLine(tick, 10, [900, 1200, 1500], 40)).length).toBeLessThan(40);
  });

  describe("a real run with --report and --json", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "loadtest-"));
    const file = path.join(dir, "report.html");
    let r: CliResult;
    beforeAll(async () => {
      const args = ["loadtest", "--scenario", "deposit", "--duration", "3", "--concurrency", "8", "--users", "10"];
      // its own server in the process, on a fresh in-memory database
      const alone = { DATABASE_URL: "", REDIS_URL: "", NATS_URL: "", WALLET_DATA_DIR: "memory://" };
      r = await runCli([...args, "--report", file, "--json"], alone);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    it("keeps every --json field, with the run second by second and its latency distribution", () => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).not.toContain("\r"); // no live line without a terminal
      const j = r.json;
      expect(j).toMatchObject({ scenario: "deposit", concurrency: 8, users: 10, errors: {}, payments_rps: 0 });
      expect(j.throughput_rps).toBeGreaterThan(0);
      for (const k of ["p50", "p90", "p99", "max", "mean"]) expect(j.latency_ms[k]).toBeGreaterThan(0);
      expect(j.statuses).toEqual({ 200: j.requests });
      expect(j.ledger).toMatchObject({ ok: true, verify: "clean" });
      expect(j.timeline.requests).toHaveLength(3);
      expect(j.timeline.requests.reduce((a: number, b: number) => a + b, 0)).toBe(j.requests);
      expect(j.timeline.errors).toEqual([0, 0, 0]);
      expect(j.latency_distribution.percentiles.map((p: { p: number }) => p.p)).toEqual([
        50, 75, 90, 95, 99, 99.9, 100,
      ]);
      expect(j.latency_distribution.buckets.reduce((a: number, b: { count: number }) => a + b.count, 0)).toBe(
        j.requests,
      );
    });

    it.skipIf(!fs.existsSync(CHROMIUM))("writes a page whose charts are drawn offline", async () => {
      expect(r.code, r.stderr).toBe(0);
      const html = fs.readFileSync(file, "utf8");
      // no reference to anything outside the page (only what matched is shown, not the 200 kB page)
      expect(html.match(/<[a-z]+\s[^>]*\b(src|href)\s*=|\burl\(|@import|sourceMappingURL/gi)).toBeNull();
      const j = r.json;
      const browser = await chromium.launch({
        executablePath: CHROMIUM,
        args: [
          "--no-sandbox",
          "--disable-gpu",
          "--disable-background-networking",
          "--disable-quic",
          "--no-first-run",
          "--disable-component-update",
          "--disable-sync",
        ],
      });
      const url = pathToFileURL(file).href;
      const outside: string[] = [];
      const problems: string[] = [];
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.route("**/*", (route) => {
          if (route.request().url() === url) return route.continue();
          outside.push(route.request().url());
          return route.abort();
        });
        page.on("request", (req) => void (req.url() !== url && outside.push(req.url())));
        // a fetch the page's policy refuses never becomes a request: it shows as a console error
        page.on("console", (m) => void (m.type() === "error" && problems.push(m.text())));
        page.on("pageerror", (e) => problems.push(e.message));
        await page.goto(url);
        const drawn = await page.evaluate(() => {
          const chart = (globalThis as unknown as { Chart: { getChart(c: HTMLCanvasElement): unknown } }).Chart;
          return [...document.querySelectorAll("canvas")].map((c) => {
            const data = c.getContext("2d")!.getImageData(0, 0, c.width, c.height).data;
            let painted = 0;
            for (let i = 3; i < data.length; i += 4) if (data[i]! > 0) painted++;
            return { id: c.id, chart: Boolean(chart.getChart(c)), painted: painted / (c.width * c.height) };
          });
        });
        expect(drawn.map((d) => d.id)).toEqual(["throughput", "histogram", "percentiles"]);
        for (const d of drawn) {
          expect(d.chart, d.id).toBe(true);
          expect(d.painted, d.id).toBeGreaterThan(0.02);
        }
        const text = await page.textContent("body");
        for (const s of ["Throughput over time", "Latency distribution", "Latency percentiles", "Statuses", "Errors"])
          expect(text).toContain(s);
        expect(text).toMatch(/Ledger check\s*ok/);
        expect(text).toContain(j.requests.toLocaleString("en-US"));
        fs.mkdirSync(path.join(ROOT, "test-artifacts"), { recursive: true });
        await page.screenshot({ path: path.join(ROOT, "test-artifacts/loadtest-report.png"), fullPage: true });
      } finally {
        await browser.close();
      }
      expect(outside).toEqual([]); // no CDN, no font, nothing but the file itself
      expect(problems).toEqual([]);
    });
  });
});
