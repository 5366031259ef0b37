/**
 * The last line of defence of a long-running process. Every request is answered
 * inside its pipeline's error boundary (app.ts, grpc/pipeline.ts); what still
 * escapes is a bug, and it must be seen, with the request it came from, rather than
 * end the process without a word (Node's default for an unhandled rejection).
 *
 * - an unhandled rejection: a promise failed with nobody waiting for it. The work it
 *   stood for was abandoned where it failed; money moves only inside PostgreSQL
 *   transactions, which roll back on their own. Logged (error, with the request id
 *   when it came from a request), counted, and the process goes on.
 * - an uncaught exception: a throw unwound a callback or an event handler midway,
 *   through code that may have been updating this process's memory (a batch of group
 *   commit, a cache, the change feed's position, a pool's bookkeeping). That state may
 *   now be corrupt, so the process says so, stops as it would on SIGTERM (bounded),
 *   and exits 1 for its supervisor to start a clean one.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Logger } from "./logger.js";

const requestScope = new AsyncLocalStorage<string>();

/** Runs fn with requestId as the current request's id (the guard's log line names it). */
export function withRequestId<T>(requestId: string, fn: () => T): T {
  return requestScope.run(requestId, fn);
}

/** The id of the request whose work is running now, if any. */
export function currentRequestId(): string | undefined {
  return requestScope.getStore();
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
      { err: reason, requestId: currentRequestId(), kind: "unhandled_rejection" },
      "unexpected error: a promise failed with nobody waiting for it; the process goes on (its work was abandoned, no state of this process depends on it)",
    );
  };
  const onException = (err: unknown) => {
    o.count?.("uncaught_exception");
    log.fatal(
      { err, requestId: currentRequestId(), kind: "uncaught_exception" },
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
