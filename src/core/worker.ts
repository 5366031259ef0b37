/**
 * The async transfer workers. Each loop claims a batch of due pending transfers,
 * applies it and commits (one transaction: claim, apply, mark); so a crash at any
 * point leaves every transfer either applied and marked, or pending for another
 * worker. Workers wake when the change feed says transfers were accepted (at once
 * for this process's own, at its next read of the change log for anyone else's) and
 * poll as a fallback, which also picks up retries that become due.
 */
import { pairsToChanges, type ChangeFeed } from "./changes/feed.js";
import type { Database } from "./db/index.js";
import { backoffMs, sleep } from "./retry.js";
import { processTransfers, type ProcessedTransfer } from "./store/ledger.js";
import { traced } from "./tracing.js";

export type AppliedTransfer = { id: string; outcome: string };
export type DeferredTransfer = { id: string; status: string; attempts: number };

export type WorkerOptions = {
  workers: number;
  batchSize: number;
  maxAttempts: number;
  /** base of the exponential retry backoff (full jitter), and its cap */
  retryBaseMs?: number;
  retryCapMs?: number;
  pollMs?: number;
  /** after each committed batch (metrics) */
  onApplied?: (rows: AppliedTransfer[]) => void;
  onDeferred?: (rows: DeferredTransfer[], err: unknown) => void;
  onError?: (err: unknown) => void;
};

export class TransferWorkers {
  private running = false;
  private loops: Array<Promise<void>> = [];
  private wakers = new Set<() => void>();
  private unlisten?: () => void;
  /** transfers applied, failed and deferred since start (for metrics and tests) */
  readonly counts = { completed: 0, failed: 0, deferred: 0, dead: 0, batches: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: WorkerOptions,
    /** wakes a loop when a transfer is accepted; without it, loops only poll */
    private readonly feed?: ChangeFeed,
  ) {}

  async start(): Promise<void> {
    if (this.running || this.opts.workers <= 0) return;
    this.running = true;
    this.unlisten = this.feed?.onTransfers(() => this.wakeOne());
    for (let i = 0; i < this.opts.workers; i++) this.loops.push(this.loop());
  }

  /** Stops claiming; resolves when every claimed batch has committed or rolled back. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wakeAll();
    await Promise.all(this.loops);
    this.loops = [];
    this.unlisten?.();
  }

  private wakeAll(): void {
    for (const wake of this.wakers) wake();
  }

  /** New work: one idle loop is enough; a loop that finds a full batch calls for help. */
  private wakeOne(): void {
    const wake = this.wakers.values().next().value;
    wake?.();
  }

  private async idle(ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (this.running) {
      try {
        const n = await this.step(this.opts.batchSize);
        failures = 0;
        if (n >= this.opts.batchSize) {
          this.wakeOne(); // more is waiting: share it
        } else if (n === 0) {
          await this.idle(this.opts.pollMs ?? 500);
        }
      } catch (err) {
        // the database is unreachable or the claim itself failed: back off and go on
        this.opts.onError?.(err);
        await sleep(backoffMs(failures++, 50, 5000));
      }
    }
  }

  /**
   * One claim-apply-commit, in one call of wallet_process_transfers (see its comment
   * in the migration: failed attempts are counted under the claim's locks, a failed
   * batch is retried one transfer at a time). Returns how many transfers it handled.
   */
  step(limit: number): Promise<number> {
    return traced("transfers.apply_batch", { "wallet.batch_limit": limit }, () => this.stepUntraced(limit));
  }

  private async stepUntraced(limit: number): Promise<number> {
    const rows: ProcessedTransfer[] = await processTransfers(
      this.db,
      limit,
      this.opts.maxAttempts,
      this.opts.retryBaseMs ?? 200,
      this.opts.retryCapMs ?? 60_000,
    );
    const applied: AppliedTransfer[] = [];
    const deferred: DeferredTransfer[] = [];
    let lastError: string | null = null;
    for (const r of rows) {
      if (r.error === null) {
        applied.push({ id: r.id, outcome: r.outcome });
      } else {
        deferred.push({ id: r.id, status: r.outcome === "dead" ? "dead" : "pending", attempts: r.attempts ?? 0 });
        lastError = r.error;
      }
    }
    // this process's caches hear of what it applied at once (everyone else reads the change log)
    const changes = rows.flatMap((r) => (r.changes ? pairsToChanges(r.changes.map(Number)) : []));
    if (changes.length > 0) await this.feed?.publish(changes, 0);
    if (applied.length > 0) {
      this.counts.batches++;
      for (const a of applied) this.counts[a.outcome === "ok" ? "completed" : "failed"]++;
      this.opts.onApplied?.(applied);
    }
    if (deferred.length > 0) {
      for (const d of deferred) this.counts[d.status === "dead" ? "dead" : "deferred"]++;
      this.opts.onDeferred?.(deferred, new Error(lastError ?? "transient fault"));
    }
    return rows.length;
  }
}
