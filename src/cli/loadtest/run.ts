/**
 * The load generator: `concurrency` loops, each sending one request at a time over
 * a keep-alive pool for `duration` seconds; latencies in an HDR histogram (µs), and
 * answers and errors counted per second of the run.
 */
import hdr from "hdr-histogram-js";
import { Pool } from "undici";
import { latencyDistribution, type LatencyDistribution } from "./distribution.js";
import { BATCH_OPERATIONS, picker, type Call, type Scenario } from "./scenarios.js";

/** Progress since the previous tick (about a second). */
export type Tick = {
  elapsed_s: number;
  interval_s: number;
  requests: number;
  errors: number;
  total_requests: number;
  total_errors: number;
};

/** The run second by second: entry i is second i (what finished after the last second counts in it). */
export type Timeline = {
  interval_s: 1;
  /** answered requests, as in `requests` */
  requests: number[];
  /** an answer >= 400, or no answer at all, as in `errors` */
  errors: number[];
};

export type LoadOptions = {
  url: string;
  scenario: Scenario;
  durationSec: number;
  concurrency: number;
  first: number;
  users: number;
  /** called about once a second with progress */
  onTick?: (tick: Tick) => void;
};

export type LoadResult = {
  scenario: Scenario;
  duration_s: number;
  concurrency: number;
  requests: number;
  throughput_rps: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  statuses: Record<string, number>;
  errors: Record<string, number>;
  /** money moved by answered deposits and withdrawals (for the ledger check) */
  deposited: number;
  withdrawn: number;
  /** holds: payments completed (a hold, then its capture, both answered) */
  payments: number;
  payments_rps: number;
  /** exchange: exchanges completed (a quote, then its exchange, both answered) */
  exchanges: number;
  exchanges_rps: number;
  /** the batch scenario: transfers applied in batches, and single transfers, each per second of the same run */
  batch_operations_rps: number;
  single_transfers_rps: number;
  /** transfer-async: accepted ids, the last per sender */
  accepted: number;
  lastAcceptedBySender: Record<string, string>;
  timeline: Timeline;
  latency_distribution: LatencyDistribution;
};

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(o.url, { connections: o.concurrency, pipelining: 1, keepAliveTimeout: 30_000 });
  // what hdr.build makes by default, by its class: the distribution iterates its recorded values
  const histogram = new hdr.Int32Histogram(1, 120_000_000, 3);
  const next = picker(o.scenario, o.first, o.users);
  const statuses: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const lastAccepted: Record<string, string> = {};
  let done = 0;
  let failed = 0;
  let deposited = 0;
  let withdrawn = 0;
  let accepted = 0;
  let payments = 0;
  let exchanges = 0;
  let batchOps = 0;
  let singles = 0;
  const started = performance.now();
  const deadline = started + o.durationSec * 1000;
  // fixed arrays and an index: counting per second costs the loop no allocation
  const answeredPerSecond = new Uint32Array(o.durationSec);
  const errorsPerSecond = new Uint32Array(o.durationSec);
  const second = (now: number) => Math.min(o.durationSec - 1, Math.floor((now - started) / 1000));
  const ticker = o.onTick ? startTicker(o.onTick, started, () => [done, failed]) : undefined;

  async function loop(): Promise<void> {
    let follow: Call | undefined;
    while (performance.now() < deadline) {
      const c = follow ?? next();
      follow = undefined;
      const t0 = performance.now();
      let status = 0;
      let text = "";
      try {
        const res = await pool.request({
          method: c.method,
          path: c.path,
          headers: c.body
            ? { authorization: String(c.user), "content-type": "application/json" }
            : { authorization: String(c.user) },
          body: c.body,
        });
        status = res.statusCode;
        text = await res.body.text();
      } catch (err) {
        const code = (err as { code?: string }).code ?? "network_error";
        errors[code] = (errors[code] ?? 0) + 1;
        failed++;
        errorsPerSecond[second(performance.now())]!++;
        continue;
      }
      const t1 = performance.now();
      histogram.recordValue(Math.max(1, Math.round((t1 - t0) * 1000)));
      const s = second(t1);
      answeredPerSecond[s]!++;
      done++;
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status >= 400) {
        failed++;
        errorsPerSecond[s]!++;
        const code = /"code":"([a-z_]+)"/.exec(text)?.[1] ?? `http_${status}`;
        errors[code] = (errors[code] ?? 0) + 1;
      } else if (c.kind === "deposit") {
        deposited += c.amount!;
      } else if (c.kind === "withdraw") {
        withdrawn += c.amount!;
      } else if (c.next) {
        follow = c.next(text);
      } else if (c.kind === "capture") {
        payments++;
      } else if (c.kind === "exchange") {
        exchanges++;
      } else if (c.kind === "batch") {
        batchOps += BATCH_OPERATIONS;
      } else if (c.kind === "transfer") {
        singles++;
      } else if (c.kind === "transfer-async") {
        accepted++;
        const id = /"transfer_id":"(\d+)"/.exec(text)?.[1];
        if (id) lastAccepted[c.user] = id;
      }
    }
  }

  await Promise.all(Array.from({ length: o.concurrency }, loop));
  clearInterval(ticker);
  const seconds = (performance.now() - started) / 1000;
  await pool.close();
  const ms = (p: number) => Math.round(histogram.getValueAtPercentile(p)) / 1000;
  const result: LoadResult = {
    scenario: o.scenario,
    duration_s: Math.round(seconds * 100) / 100,
    concurrency: o.concurrency,
    requests: done,
    throughput_rps: Math.round(done / seconds),
    latency_ms: {
      p50: ms(50),
      p90: ms(90),
      p99: ms(99),
      max: histogram.maxValue / 1000,
      mean: Math.round(histogram.mean) / 1000,
    },
    statuses,
    errors,
    deposited,
    withdrawn,
    accepted,
    payments,
    payments_rps: Math.round(payments / seconds),
    exchanges,
    exchanges_rps: Math.round(exchanges / seconds),
    batch_operations_rps: Math.round(batchOps / seconds),
    single_transfers_rps: Math.round(singles / seconds),
    lastAcceptedBySender: lastAccepted,
    timeline: { interval_s: 1, requests: Array.from(answeredPerSecond), errors: Array.from(errorsPerSecond) },
    latency_distribution: latencyDistribution(histogram),
  };
  histogram.destroy();
  return result;
}

/** Calls onTick about once a second with what happened since the previous call. */
function startTicker(onTick: (t: Tick) => void, started: number, totals: () => [number, number]): NodeJS.Timeout {
  let at = started;
  let [done, failed] = [0, 0];
  return setInterval(() => {
    const now = performance.now();
    const [d, f] = totals();
    onTick({
      elapsed_s: (now - started) / 1000,
      interval_s: (now - at) / 1000,
      requests: d - done,
      errors: f - failed,
      total_requests: d,
      total_errors: f,
    });
    [at, done, failed] = [now, d, f];
  }, 1000);
}
