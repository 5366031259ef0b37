/**
 * Group commit: every operation that moves money goes through here. Every commit
 * waits for a WAL flush, which caps one-operation-per-commit throughput (and far
 * lower on one busy wallet), so operations that arrive while a batch is in flight
 * are gathered and sent as the next batch: one call, one commit, one result per
 * operation. An idle server sends a lone operation at once, with no added delay.
 *
 * Failures are told apart by what they say about the outcome (db/errors.ts):
 * - a known rollback (deadlock, serialization): the batch is sent again as it was;
 * - an unknown outcome (the connection dropped, the server went away, a timeout):
 *   the batch may have committed, so it is sent again with retry set, and each
 *   operation already applied is answered from what it stored (its id, or its
 *   Idempotency-Key, is its identity): never applied twice;
 * - a definite error of the statement: each operation is tried alone, so only the
 *   one that causes it fails.
 * Attempts go on, with backoff, until the earliest deadline in the batch; then every
 * operation in it is answered `unavailable` (it may have been applied: a client
 * retries it with its Idempotency-Key).
 *
 * After the commit, a batch is answered only once afterCommit has run (the change
 * feed passes the batch's changes to this process's caches: read-your-writes).
 */
import { classifyFailure } from "./db/errors.js";
import { WalletError } from "./errors.js";
import { backoffMs, sleep } from "./retry.js";

type Pending<Op, R> = { op: Op; deadline: number; resolve(r: R): void; reject(e: unknown): void };

export type GroupCommitOptions = {
  /** 1: every operation commits alone */
  maxBatch: number;
  maxInFlight: number;
  /** how long an operation may wait for the database before it is answered unavailable */
  deadlineMs: number;
};

export type BatchRunner<Op, R> = (ops: Op[], retry: boolean) => Promise<R[]>;

export class GroupCommit<Op extends { id: string }, R> {
  /** batches committed, attempts sent again after a known rollback or an unknown outcome, operations answered unavailable */
  readonly counts = { batches: 0, rollbackRetries: 0, unknownRetries: 0, unavailable: 0 };
  private queue: Array<Pending<Op, R>> = [];
  private inFlight = 0;
  /** submitted and not yet answered (queued, in flight, or waiting for afterCommit) */
  private unanswered = 0;
  private scheduled = false;

  constructor(
    private readonly run: BatchRunner<Op, R>,
    private readonly opts: GroupCommitOptions,
    private readonly afterCommit?: (results: R[]) => Promise<void>,
  ) {}

  submit(op: Op): Promise<R> {
    this.unanswered++;
    return new Promise<R>((resolve, reject) => {
      this.queue.push({ op, deadline: Date.now() + this.opts.deadlineMs, resolve, reject });
      this.schedule();
    }).finally(() => this.unanswered--);
  }

  /** Resolves once every operation submitted is answered (afterCommit included). */
  async drain(): Promise<void> {
    while (this.unanswered > 0) await sleep(5);
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // gather everything that arrives in this turn of the event loop
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
        this.inFlight++;
        let released = false;
        // the slot is the database call: freed as soon as it returns, not when the batch is answered
        const release = () => {
          if (released) return;
          released = true;
          this.inFlight--;
          this.schedule();
        };
        void this.flush(this.queue.splice(0, this.opts.maxBatch), false, release).finally(release);
      }
    });
  }

  private async flush(batch: Array<Pending<Op, R>>, retry: boolean, release: () => void): Promise<void> {
    const deadline = Math.min(...batch.map((p) => p.deadline));
    for (let attempt = 0; ; attempt++) {
      let results: R[];
      try {
        results = await this.run(
          batch.map((p) => p.op),
          retry,
        );
      } catch (err) {
        const kind = classifyFailure(err);
        if (kind === "error") {
          if (batch.length === 1) return batch[0]!.reject(err);
          // run each alone, so that only the operation that causes it sees it
          await Promise.all(batch.map((p) => this.flush([p], retry, () => undefined)));
          return;
        }
        if (kind === "unknown") retry = true; // it may have committed: from now on, ask with the identities
        const wait = backoffMs(attempt, 50, 1000);
        if (Date.now() + wait >= deadline) {
          this.counts.unavailable += batch.length;
          const unavailable = new WalletError("unavailable");
          for (const p of batch) p.reject(unavailable);
          return;
        }
        this.counts[kind === "unknown" ? "unknownRetries" : "rollbackRetries"]++;
        await sleep(wait);
        continue;
      }
      this.counts.batches++;
      release();
      await this.afterCommit?.(results).catch(() => undefined); // the caches' own faults mark them degraded
      batch.forEach((p, i) => p.resolve(results[i]!));
      return;
    }
  }
}
