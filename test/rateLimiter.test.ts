/** The in-process rate limiter: bounded memory without a scan per request. */
import { expect, it } from "vitest";
import { MemoryRateLimiter } from "../src/core/cache/rateLimiter.js";

it("keeps at most maxUsers buckets, forgetting one per new user past it", async () => {
  const l = new MemoryRateLimiter(1, 5, 1000);
  for (let u = 1; u <= 5000; u++) await l.take(u);
  expect(l.size).toBe(1000);
  expect(l.evicted).toBe(4000);
  // a new user past the bound costs exactly one forgotten bucket, never a sweep
  await l.take(5001);
  expect([l.size, l.evicted]).toEqual([1000, 4001]);
});

it("forgets the bucket used longest ago, not one in use", async () => {
  const l = new MemoryRateLimiter(0.001, 3, 100);
  for (let i = 0; i < 3; i++) expect((await l.take(1)).allowed).toBe(true);
  expect((await l.take(1)).allowed).toBe(false);
  for (let u = 2; u <= 1000; u++) {
    await l.take(u);
    // user 1 keeps asking: its empty bucket stays (a forgotten one would come back full)
    if (u % 50 === 0) expect((await l.take(1)).allowed).toBe(false);
  }
  // user 2 was used longest ago: forgotten, it starts again from a full bucket
  expect((await l.take(2)).remaining).toBe(2);
});
