/**
 * A BatchRunner that plays a script: each call is recorded (its operations and its
 * retry flag) and answered by the next step, or by a step chosen from the batch.
 */
import type { BatchRunner } from "../../src/core/groupCommit.js";

export type Op = { id: string };
export type Call = { ids: string[]; retry: boolean };
/** a step: what one call does with its batch (throw, answer, or wait) */
export type Step = (ops: Op[], retry: boolean) => Promise<string[]>;

export const answer: Step = async (ops) => ops.map((o) => `done ${o.id}`);
export const fail =
  (err: unknown): Step =>
  async () => {
    throw err;
  };

/** The errors the drivers raise, in the shape classifyFailure reads (see classifyFailure.test.ts). */
export const deadlock = () => Object.assign(new Error("deadlock detected"), { code: "40P01" });
export const reset = () => Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104 });
export const uniqueViolation = () => Object.assign(new Error("duplicate key value"), { code: "23505" });

export function scriptedRunner(steps: Step[], otherwise: Step = answer) {
  const calls: Call[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const run: BatchRunner<Op, string> = async (ops, retry) => {
    calls.push({ ids: ops.map((o) => o.id), retry });
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    try {
      return await (steps.shift() ?? otherwise)(ops, retry);
    } finally {
      inFlight--;
    }
  };
  return { run, calls, maxInFlight: () => maxInFlight };
}

/** A promise to settle from outside: a database call that answers when the test says so. */
export function gate() {
  let open = () => undefined as void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

/** Settles every pending promise callback and setImmediate turn queued so far. */
export const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How a promise ended, without letting a rejection go unhandled. */
export function settle<T>(p: Promise<T>) {
  const state: { value?: T; error?: unknown; done: boolean } = { done: false };
  p.then(
    (value) => Object.assign(state, { value, done: true }),
    (error) => Object.assign(state, { error, done: true }),
  );
  return state;
}
