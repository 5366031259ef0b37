/**
 * The async transfer workers. Each loop claims a batch of due pending transfers,
 * applies it and commits (one transaction: claim, apply, mark); so a crash at any
 * point leaves every transfer either applied and marked, or pending for another
 * worker. Workers wake on NOTIFY wallet_transfers (sent when a transfer is
 * accepted) and poll as a fallback, which also picks up retries that become due.
 */
import type { Knex } from "knex";
import type { Database } from "./db.js";
import type { WalletVersion } from "./outcome.js";
import { backoffMs, isConnectionLost, sleep } from "./retry.js";
import { traced } from "./tracing.js";

export type AppliedTransfer = {
  id: string;
  outcome: string;
  from_user_id: number;
  to_user_id: number;
  from_version: number | null;
  to_version: number | null;
};

export type DeferredTransfer = { id: string; status: string; attempts: number };

async function applyTransfers(trx: Knex.Transaction, ids: string[]): Promise<AppliedTransfer[]> {
  const { rows } = await trx.raw<{ rows: AppliedTransfer[] }>(
    `select id::text as id, outcome, from_user_id, to_user_id, from_version, to_version
       from wallet_apply_transfers(?::bigint[])`,
    [ids],
  );
  return rows;
}

/** The database's own message, without the SQL text knex puts in front of it. */
function errorText(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const i = message.lastIndexOf(" - ");
  return i >= 0 ? message.slice(i + 3) : message;
}

/** The wallet versions a batch produced: the cache hears of them. */
export function appliedVersions(rows: AppliedTransfer[]): WalletVersion[] {
  const versions: WalletVersion[] = [];
  for (const r of rows) {
    if (r.from_version !== null) versions.push({ userId: r.from_user_id, version: r.from_version });
    if (r.to_version !== null) versions.push({ userId: r.to_user_id, version: r.to_version });
  }
  return versions;
}

export type WorkerOptions = {
  workers: number;
  batchSize: number;
  maxAttempts: number;
  /** base of the exponential retry backoff (full jitter), and its cap */
  retryBaseMs?: number;
  retryCapMs?: number;
  pollMs?: number;
  /** after each committed batch: the cache hears of changed wallets here */
  onApplied?: (rows: AppliedTransfer[]) => void | Promise<void>;
  onDeferred?: (rows: DeferredTransfer[], err: unknown) => void;
  onError?: (err: unknown) => void;
};

export class TransferWorkers {
  private running = false;
  private loops: Array<Promise<void>> = [];
  private wakers = new Set<() => void>();
  private unlisten?: () => Promise<void>;
  /** transfers applied, failed and deferred since start (for metrics and tests) */
  readonly counts = { completed: 0, failed: 0, deferred: 0, dead: 0, batches: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: WorkerOptions,
  ) {}

  async start(): Promise<void> {
    if (this.running || this.opts.workers <= 0) return;
    this.running = true;
    try {
      this.unlisten = await this.db.listen("wallet_transfers", () => this.wakeOne());
    } catch (err) {
      this.opts.onError?.(err); // polling still finds the work
    }
    for (let i = 0; i < this.opts.workers; i++) this.loops.push(this.loop());
  }

  /** Stops claiming; resolves when every claimed batch has committed or rolled back. */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wakeAll();
    await Promise.all(this.loops);
    this.loops = [];
    await this.unlisten?.().catch(() => undefined);
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
   * One claim-apply-commit; returns how many transfers it claimed. The apply runs
   * under a savepoint: if it fails, the claim's row locks are still ours, so the
   * failed attempt is counted (and the transfer rescheduled or dead-lettered) in the
   * same transaction, and no other worker can take the transfer in between. A batch
   * that fails is applied again one transfer at a time, so that one transfer's fault
   * costs the others nothing. If the connection itself is lost, everything rolls
   * back and the transfers stay pending, their attempt not counted.
   */
  step(limit: number): Promise<number> {
    return traced("transfers.apply_batch", { "wallet.batch_limit": limit }, () => this.stepUntraced(limit));
  }

  private async stepUntraced(limit: number): Promise<number> {
    const applied: AppliedTransfer[] = [];
    const deferred: DeferredTransfer[] = [];
    let lastError: unknown;
    const claimed = await this.db.knex.transaction(async (trx) => {
      const r = await trx.raw<{ rows: Array<{ ids: string[] }> }>("select wallet_claim_transfers(?)::text[] as ids", [
        limit,
      ]);
      const ids = r.rows[0]?.ids ?? [];
      if (ids.length === 0) return 0;
      const attempt = async (batch: string[]) => {
        try {
          applied.push(...(await trx.transaction((sp) => applyTransfers(sp, batch))));
          return true;
        } catch (err) {
          if (isConnectionLost(err)) throw err;
          lastError = err;
          return false;
        }
      };
      if (!(await attempt(ids))) {
        if (ids.length === 1) {
          deferred.push(...(await this.defer(trx, ids, lastError)));
        } else {
          for (const id of ids) {
            if (!(await attempt([id]))) deferred.push(...(await this.defer(trx, [id], lastError)));
          }
        }
      }
      return ids.length;
    });
    if (applied.length > 0) {
      this.counts.batches++;
      for (const a of applied) this.counts[a.outcome === "ok" ? "completed" : "failed"]++;
      await this.opts.onApplied?.(applied);
    }
    if (deferred.length > 0) {
      for (const d of deferred) this.counts[d.status === "dead" ? "dead" : "deferred"]++;
      this.opts.onDeferred?.(deferred, lastError);
    }
    return claimed;
  }

  private async defer(trx: Knex.Transaction, ids: string[], err: unknown): Promise<DeferredTransfer[]> {
    const { rows } = await trx.raw<{ rows: DeferredTransfer[] }>(
      "select id::text as id, status, attempts from wallet_defer_transfers(?::bigint[], ?, ?, ?, ?)",
      [ids, errorText(err), this.opts.maxAttempts, this.opts.retryBaseMs ?? 200, this.opts.retryCapMs ?? 60_000],
    );
    return rows;
  }
}
