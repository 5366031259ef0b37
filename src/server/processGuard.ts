/**
 * The last line of defence of a long-running process. Every request is answered
 * inside its pipeline's error boundary (app.ts, grpc/pipeline.ts); what still
 * escapes is a bug, and it must be seen, with the request it came from, rather than
 * end the process without a word (Node's default for an unhandled rejection).
 *
 * - an unhandled rejection: a promise failed with nobody waiting for it. The work it
 *   stood for was abandoned where it failed; money moves only inside PostgreSQL
 *   transactions, which roll back on their own. Logged (error, with the requests in
 *   flight), counted, and the process goes on.
 * - an uncaught exception: a throw unwound a callback or an event handler midway,
 *   through code that may have been updating this process's memory (a batch of group
 *   commit, a cache, the change feed's position, a pool's bookkeeping). That state may
 *   now be corrupt, so the process says so, stops as it would on SIGTERM (bounded),
 *   and exits 1 for its supervisor to start a clean one.
 */
import type { Logger } from "./logger.js";

/**
 * The requests being answered now (their ids, by entry).
 * Not AsyncLocalStorage: on Node 20 it works through promise hooks on every promise of
 * the process, which cost a cached balance about a tenth of its CPU (bench/README.md,
 * "The CPU a request costs"). So what escapes is attributed to the requests in flight
 * when it surfaced: exactly when one was (a test, a quiet process, most escapes under
 * light load), else the list of candidates (docs/decisions.md).
 */
const inFlight = new Map<number, string>();
/** how many ids of requests in flight a log line lists */
const LISTED = 16;
/** each entry's own key: a small integer (cheaper to hash than the id, and one id may be entered twice) */
let lastSlot = 0;
/** entries that end at the next turn of the event loop, all with one setImmediate */
let leaving: number[] = [];
let flushing = false;

function flush(): void {
  flushing = false;
  const slots = leaving;
  leaving = [];
  for (const slot of slots) inFlight.delete(slot);
}

/**
 * Runs fn as the work of request requestId: until what it returns settles, and one turn
 * of the event loop more (an unhandled rejection of that very promise is reported in
 * between), an escape names it. A promise is answered by a derived one, so a rejection
 * nobody handles is still reported as unhandled.
 */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  const slot = (lastSlot = (lastSlot + 1) & 0x3fffffff);
  inFlight.set(slot, requestId);
  const done = () => {
    leaving.push(slot);
    if (!flushing) {
      flushing = true;
      setImmediate(flush);
    }
  };
  let result: T;
  try {
    result = fn();
  } catch (err) {
    done();
    throw err;
  }
  if (!(result instanceof Promise)) {
    done();
    return result;
  }
  return result.then(
    (value: unknown) => (done(), value),
    (err: unknown) => {
      done();
      throw err;
    },
  ) as T;
}

/** Who an escape is attributed to: the request in flight, or (several) up to LISTED candidates. */
export function requestsNow(): { requestId?: string; requestsInFlight?: string[] } {
  const ids = new Set<string>();
  for (const id of inFlight.values()) if (ids.add(id).size >= LISTED) break;
  if (ids.size === 0) return {};
  if (ids.size === 1) return { requestId: ids.values().next().value };
  return { requestsInFlight: [...ids] };
}

export type GuardOptions = {
  /** counts what escaped, by kind (unhandled_rejection, uncaught_exception) */
  count?: (kind: "unhandled_rejection" | "uncaught_exception") => void;
  /** stops the process's work in order; bounded by stopTimeoutMs */
  stop: () => Promise<void>;
  stopTimeoutMs: number;
  exit?: (code: number) => void;
};

/** Installs the handlers once per process; returns a function that removes them. */
export function installProcessGuard(log: Logger, o: GuardOptions): () => void {
  const exit = o.exit ?? ((code: number) => process.exit(code));
  let exiting = false;
  const onRejection = (reason: unknown) => {
    o.count?.("unhandled_rejection");
    log.error(
      { err: reason, ...requestsNow(), kind: "unhandled_rejection" },
      "unexpected error: a promise failed with nobody waiting for it; the process goes on (its work was abandoned, no state of this process depends on it)",
    );
  };
  const onException = (err: unknown) => {
    o.count?.("uncaught_exception");
    log.fatal(
      { err, ...requestsNow(), kind: "uncaught_exception" },
      "unexpected error: an exception escaped a callback; this process's memory (batches, caches, change feed position) may be half-updated, so it stops and exits 1 for a clean restart",
    );
    if (exiting) return;
    exiting = true;
    const timer = setTimeout(() => exit(1), o.stopTimeoutMs);
    timer.unref();
    o.stop().then(
      () => exit(1),
      () => exit(1),
    );
  };
  process.on("unhandledRejection", onRejection);
  process.on("uncaughtException", onException);
  return () => {
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  };
}
