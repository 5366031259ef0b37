/** The in-process cache stays within its size: past maxBytes of values, the oldest go. */
import { expect, it } from "vitest";
import { MemoryCache } from "../src/core/cache/memoryCache.js";

it("keeps the newest values within maxBytes, and serves what it kept", async () => {
  const cache = new MemoryCache(1000, 10_000); // 10 kB: four values of 2,000 characters (4 kB each) do not fit
  const page = (n: number) => String(n).repeat(2000);
  for (let user = 1; user <= 4; user++) {
    await cache.bump([{ userId: user, version: 1 }]);
    await cache.fill(user, "h", 1, page(user), await cache.get(user, "h"));
  }
  const hits = [];
  for (let user = 1; user <= 4; user++) hits.push((await cache.get(user, "h")).hit);
  expect(hits).toEqual([false, false, true, true]); // 8 kB kept: the two newest
  expect(await cache.get(4, "h")).toEqual({ hit: true, value: page(4) });
  // filling the same key again replaces it without counting it twice
  await cache.fill(4, "h", 1, page(4), { hit: false, epoch: "0", version: 1 });
  expect((await cache.get(3, "h")).hit).toBe(true);
});
