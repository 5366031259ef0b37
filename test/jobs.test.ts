import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it, vi } from "vitest";
import { periodicJob } from "../src/server/process/jobs.js";

/** A logger whose lines land in an array. */
function capturedLog() {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { log: pino({ level: "debug" }, sink), lines };
}

/** A promise and the functions that settle it. */
function deferred<T = void>() {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("a background job", () => {
  it("logs a failed pass with its name", async () => {
    const { log, lines } = capturedLog();
    const second = deferred();
    let passes = 0;
    const job = periodicJob(
      {
        name: "failing-then-fine",
        everyMs: 5,
        run: async () => {
          passes++;
          if (passes === 1) throw new Error("database away");
          second.resolve();
        },
      },
      log,
    );
    job.start();
    await second.promise;
    await job.stop();
    const failure = lines.find((l) => l.msg === "background job failed");
    expect(failure).toMatchObject({ job: "failing-then-fine", err: "database away" });
  });

  it("runs again after a failed pass", async () => {
    const { log } = capturedLog();
    const second = deferred();
    let passes = 0;
    const job = periodicJob(
      {
        name: "retries",
        everyMs: 5,
        run: async () => {
          if (++passes === 1) throw new Error("once");
          second.resolve();
        },
      },
      log,
    );
    job.start();
    await second.promise;
    await job.stop();
    expect(passes).toBeGreaterThanOrEqual(2);
  });

  it("stop waits for the pass in flight", async () => {
    const { log } = capturedLog();
    const entered = deferred();
    const release = deferred();
    let finished = false;
    const job = periodicJob(
      {
        name: "slow",
        everyMs: 5,
        run: async () => {
          entered.resolve();
          await release.promise;
          finished = true;
        },
      },
      log,
    );
    job.start();
    await entered.promise;
    let stopped = false;
    const stopping = job.stop().then(() => (stopped = true));
    await new Promise((r) => setImmediate(r));
    expect(stopped).toBe(false);
    release.resolve();
    await stopping;
    expect(finished).toBe(true);
  });

  it("runs no pass once stopped", async () => {
    vi.useFakeTimers();
    try {
      const { log } = capturedLog();
      let passes = 0;
      const job = periodicJob({ name: "counted", everyMs: 5, run: async () => void passes++ }, log);
      job.start();
      await vi.advanceTimersByTimeAsync(5);
      expect(passes).toBe(1);
      await job.stop();
      await vi.advanceTimersByTimeAsync(100);
      expect(passes).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });
});
