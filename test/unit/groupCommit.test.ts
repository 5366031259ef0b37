/**
 * Group commit against a scripted database call: how operations are gathered into
 * batches, what each kind of failure does to a batch, the deadline, afterCommit and
 * drain. `npm run test:coverage` shows every branch of src/core/groupCommit.ts taken.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WalletError } from "../../src/core/errors.js";
import { GroupCommit, type GroupCommitOptions } from "../../src/core/groupCommit.js";
import {
  answer,
  deadlock,
  fail,
  gate,
  reset,
  scriptedRunner,
  settle,
  turn,
  uniqueViolation,
  type Op,
  type Step,
} from "./scriptedRunner.js";

const opts = (o: Partial<GroupCommitOptions> = {}): GroupCommitOptions => ({
  maxBatch: 256,
  maxInFlight: 4,
  deadlineMs: 60_000,
  ...o,
});
const ops = (...ids: string[]): Op[] => ids.map((id) => ({ id }));

beforeEach(() => {
  vi.spyOn(Math, "random").mockReturnValue(0); // backoff waits of 0 ms: retries at once
});
afterEach(() => {
  vi.restoreAllMocks();
});

describe("gathering", () => {
  it("sends a lone operation at once, alone, without retry", async () => {
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts());
    expect(await gc.submit({ id: "a" })).toBe("done a");
    expect(db.calls).toEqual([{ ids: ["a"], retry: false }]);
    expect(gc.counts.batches).toBe(1);
  });

  it("sends the operations submitted in one turn as one batch", async () => {
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts());
    expect(await Promise.all(ops("a", "b", "c").map((o) => gc.submit(o)))).toEqual(["done a", "done b", "done c"]);
    expect(db.calls).toEqual([{ ids: ["a", "b", "c"], retry: false }]);
  });

  it("puts at most maxBatch operations in a batch", async () => {
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts({ maxBatch: 2 }));
    await Promise.all(ops("a", "b", "c", "d", "e").map((o) => gc.submit(o)));
    expect(db.calls.map((c) => c.ids)).toEqual([["a", "b"], ["c", "d"], ["e"]]);
  });

  it("has at most maxInFlight batches in flight", async () => {
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts({ maxBatch: 1, maxInFlight: 2 }));
    await Promise.all(ops("a", "b", "c", "d", "e").map((o) => gc.submit(o)));
    expect(db.calls).toHaveLength(5);
    expect(db.maxInFlight()).toBe(2);
  });

  it("gathers the operations that arrive while the slots are busy into the next batch", async () => {
    const first = gate();
    const db = scriptedRunner([async (o) => (await first.opened, answer(o, false))]);
    const gc = new GroupCommit(db.run, opts({ maxInFlight: 1 }));
    const a = gc.submit({ id: "a" });
    await vi.waitFor(() => expect(db.calls).toHaveLength(1));
    const b = gc.submit({ id: "b" });
    await turn();
    const c = gc.submit({ id: "c" });
    await turn();
    expect(db.calls).toHaveLength(1); // b and c wait for the slot
    first.open();
    expect(await Promise.all([a, b, c])).toEqual(["done a", "done b", "done c"]);
    expect(db.calls.map((x) => x.ids)).toEqual([["a"], ["b", "c"]]);
  });
});

describe("failures", () => {
  it("sends a batch again as it was after a known rollback", async () => {
    const db = scriptedRunner([fail(deadlock())]);
    const gc = new GroupCommit(db.run, opts());
    expect(await Promise.all(ops("a", "b").map((o) => gc.submit(o)))).toEqual(["done a", "done b"]);
    expect(db.calls).toEqual([
      { ids: ["a", "b"], retry: false },
      { ids: ["a", "b"], retry: false },
    ]);
    expect(gc.counts).toMatchObject({ batches: 1, rollbackRetries: 1, unknownRetries: 0 });
  });

  it("sends a batch again with retry set after an unknown outcome", async () => {
    const db = scriptedRunner([fail(reset())]);
    const gc = new GroupCommit(db.run, opts());
    expect(await Promise.all(ops("a", "b").map((o) => gc.submit(o)))).toEqual(["done a", "done b"]);
    expect(db.calls).toEqual([
      { ids: ["a", "b"], retry: false },
      { ids: ["a", "b"], retry: true },
    ]);
    expect(gc.counts).toMatchObject({ batches: 1, rollbackRetries: 0, unknownRetries: 1 });
  });

  it("keeps retry set on the attempts after an unknown outcome", async () => {
    const db = scriptedRunner([fail(reset()), fail(deadlock())]);
    const gc = new GroupCommit(db.run, opts());
    await gc.submit({ id: "a" });
    expect(db.calls.map((c) => c.retry)).toEqual([false, true, true]);
  });

  /** fails any batch of more than one operation that holds b, and b alone */
  const bBreaksTheStatement: Step = async (o, retry) => {
    if (o.some((x) => x.id === "b")) throw uniqueViolation();
    return answer(o, retry);
  };

  it("tries each operation alone after a statement error", async () => {
    const db = scriptedRunner([], bBreaksTheStatement);
    const gc = new GroupCommit(db.run, opts());
    await Promise.allSettled(ops("a", "b", "c").map((o) => gc.submit(o)));
    expect(db.calls.map((c) => c.ids)).toEqual([["a", "b", "c"], ["a"], ["b"], ["c"]]);
  });

  it("rejects only the operation that causes a statement error, with its error", async () => {
    const err = uniqueViolation();
    const db = scriptedRunner([], async (o, retry) => {
      if (o.some((x) => x.id === "b")) throw err;
      return answer(o, retry);
    });
    const gc = new GroupCommit(db.run, opts());
    const [a, b, c] = ops("a", "b", "c").map((o) => settle(gc.submit(o)));
    await gc.drain();
    expect(a).toMatchObject({ done: true, value: "done a" });
    expect(b).toMatchObject({ done: true, error: err });
    expect(c).toMatchObject({ done: true, value: "done c" });
  });

  it("rejects a lone operation's statement error without another attempt", async () => {
    const err = uniqueViolation();
    const db = scriptedRunner([fail(err)]);
    const gc = new GroupCommit(db.run, opts());
    await expect(gc.submit({ id: "a" })).rejects.toBe(err);
    expect(db.calls).toHaveLength(1);
  });

  it("keeps retry set when it splits a batch after an unknown outcome", async () => {
    const db = scriptedRunner([fail(reset())], bBreaksTheStatement);
    const gc = new GroupCommit(db.run, opts());
    await Promise.allSettled(ops("a", "b").map((o) => gc.submit(o)));
    expect(db.calls).toEqual([
      { ids: ["a", "b"], retry: false },
      { ids: ["a", "b"], retry: true },
      { ids: ["a"], retry: true },
      { ids: ["b"], retry: true },
    ]);
  });
});

describe("the deadline", () => {
  it("answers every operation of the batch unavailable once the next attempt would pass it", async () => {
    const db = scriptedRunner([], fail(reset()));
    const gc = new GroupCommit(db.run, opts({ deadlineMs: 0 }));
    const results = await Promise.allSettled(ops("a", "b").map((o) => gc.submit(o)));
    for (const r of results) {
      expect(r.status).toBe("rejected");
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(WalletError);
      expect((r as PromiseRejectedResult).reason.code).toBe("unavailable");
    }
    expect(db.calls).toHaveLength(1);
    expect(gc.counts).toMatchObject({ unavailable: 2, batches: 0 });
  });

  it("keeps trying until the deadline", async () => {
    vi.spyOn(Math, "random").mockReturnValue(0.5); // waits of 25, 50, 100 ms...
    const db = scriptedRunner([], fail(deadlock()));
    const gc = new GroupCommit(db.run, opts({ deadlineMs: 150 }));
    await expect(gc.submit({ id: "a" })).rejects.toMatchObject({ code: "unavailable" });
    expect(db.calls.length).toBeGreaterThan(1);
    expect(gc.counts.rollbackRetries).toBe(db.calls.length - 1);
  });
});

describe("afterCommit", () => {
  it("runs with the batch's results before the operations are answered", async () => {
    const seen: string[] = [];
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts(), async (results) => void seen.push(`after ${results.join(",")}`));
    await Promise.all(ops("a", "b").map((o) => gc.submit(o).then((r) => seen.push(`answered ${r}`))));
    expect(seen).toEqual(["after done a,done b", "answered done a", "answered done b"]);
  });

  it("does not fail the batch when it fails", async () => {
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts(), async () => {
      throw new Error("cache unreachable");
    });
    expect(await gc.submit({ id: "a" })).toBe("done a");
  });

  it("does not hold the batch's slot: the next batch is sent while it runs", async () => {
    const cachesDone = gate();
    const db = scriptedRunner([]);
    const gc = new GroupCommit(db.run, opts({ maxInFlight: 1 }), () => cachesDone.opened);
    const a = settle(gc.submit({ id: "a" }));
    await vi.waitFor(() => expect(db.calls).toHaveLength(1));
    const b = settle(gc.submit({ id: "b" }));
    await vi.waitFor(() => expect(db.calls).toHaveLength(2));
    expect(a.done).toBe(false);
    expect(b.done).toBe(false);
    cachesDone.open();
    await gc.drain();
    expect(a).toMatchObject({ done: true, value: "done a" });
  });
});

describe("drain", () => {
  it("resolves at once when nothing is queued or in flight", async () => {
    const gc = new GroupCommit(scriptedRunner([]).run, opts());
    await gc.drain();
    expect(gc.counts.batches).toBe(0);
  });

  it("resolves only once the batch in flight is answered", async () => {
    const db_ = gate();
    const db = scriptedRunner([async (o) => (await db_.opened, answer(o, false))]);
    const gc = new GroupCommit(db.run, opts());
    const a = settle(gc.submit({ id: "a" }));
    const drained = settle(gc.drain());
    await vi.waitFor(() => expect(db.calls).toHaveLength(1));
    await turn();
    expect(drained.done).toBe(false);
    db_.open();
    await vi.waitFor(() => expect(drained.done).toBe(true));
    expect(a).toMatchObject({ done: true, value: "done a" });
  });
});
