/** The backoff every retry loop uses, and its sleep. */
import { afterEach, describe, expect, it, vi } from "vitest";
import { backoffMs, sleep } from "../../src/core/retry.js";

afterEach(() => {
  vi.restoreAllMocks();
  vi.useRealTimers();
});

describe("backoffMs", () => {
  it("waits nothing at the low end of the jitter", () => {
    vi.spyOn(Math, "random").mockReturnValue(0);
    expect(backoffMs(5, 50, 1000)).toBe(0);
  });

  it.each([
    [0, 50],
    [1, 100],
    [3, 400],
    [4, 800],
  ])("stays below base * 2^attempt (attempt %i: %i ms)", (attempt, bound) => {
    vi.spyOn(Math, "random").mockReturnValue(0.999999);
    const wait = backoffMs(attempt, 50, 1000);
    expect(wait).toBeLessThan(bound);
    expect(wait).toBeGreaterThan(bound * 0.99);
  });

  it("never passes the cap however many attempts", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.999999);
    expect(backoffMs(5, 50, 1000)).toBeLessThan(1000);
    expect(backoffMs(60, 50, 1000)).toBeGreaterThan(999);
    expect(backoffMs(60, 50, 1000)).toBeLessThan(1000);
  });

  it("defaults to 5 ms doubling to a 1 s cap", () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5);
    expect(backoffMs(0)).toBe(2.5);
    expect(backoffMs(20)).toBe(500);
  });
});

describe("sleep", () => {
  it("resolves once its time has passed, not before", async () => {
    vi.useFakeTimers();
    let done = false;
    const slept = sleep(100).then(() => (done = true));
    await vi.advanceTimersByTimeAsync(99);
    expect(done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await slept;
    expect(done).toBe(true);
  });
});
