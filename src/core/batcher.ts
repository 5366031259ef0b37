/**
 * Group commit. Every commit waits for a WAL flush, which caps one-operation-per-
 * commit throughput (and far lower on one busy wallet). Operations that arrive while
 * a batch is in flight are gathered and sent as the next batch: one call, one commit,
 * one result per operation, in arrival order. An idle server sends a lone operation
 * at once, with no added delay.
 */
import { withRetry } from "./retry.js";

type Pending<Op, R> = { op: Op; resolve(r: R): void; reject(e: unknown): void };

export type BatcherOptions = { maxBatch: number; maxInFlight: number };

export class Batcher<Op, R> {
  private queue: Array<Pending<Op, R>> = [];
  private inFlight = 0;
  private scheduled = false;

  constructor(
    private readonly run: (ops: Op[]) => Promise<R[]>,
    private readonly opts: BatcherOptions,
  ) {}

  submit(op: Op): Promise<R> {
    return new Promise((resolve, reject) => {
      this.queue.push({ op, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once nothing is queued or in flight. */
  async drain(): Promise<void> {
    while (this.inFlight > 0 || this.queue.length > 0) await new Promise((r) => setTimeout(r, 5));
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.opts.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // gather everything that arrives in this turn of the event loop
    setImmediate(() => {
      this.scheduled = false;
      while (this.inFlight < this.opts.maxInFlight && this.queue.length > 0) {
        void this.flush(this.queue.splice(0, this.opts.maxBatch));
      }
    });
  }

  private async flush(batch: Array<Pending<Op, R>>): Promise<void> {
    this.inFlight++;
    try {
      const results = await withRetry(() => this.run(batch.map((p) => p.op)));
      batch.forEach((p, i) => p.resolve(results[i]!));
    } catch (err) {
      if (batch.length === 1) {
        batch[0]!.reject(err);
      } else {
        // an unexpected error fails the whole batch: run each alone, so that only
        // the operation that causes it sees it
        await Promise.all(batch.map((p) => withRetry(() => this.run([p.op])).then((r) => p.resolve(r[0]!), p.reject)));
      }
    } finally {
      this.inFlight--;
      this.schedule();
    }
  }
}
