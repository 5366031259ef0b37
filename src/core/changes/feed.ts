/**
 * What the database says changed. Every transaction that changes wallets writes a
 * row of the change log (wallet_changes) in the same transaction, whoever made it
 * (this process, another instance, `wallet worker`, the direct-mode CLI, a function
 * called from psql). Each process reads the log in commit order, a few times a
 * second, and passes the new versions to its subscribers (the caches, long polls);
 * rows that accepted async transfers wake the workers.
 *
 * The process's own writes are passed on at once, from the versions the database
 * returned (publish), so that a writer answers only once its caches know
 * (read-your-writes) without waiting for the next read of the log.
 *
 * If reading fails (the database is away), the feed is down: subscribers are not used
 * (the caches are off) and, when it reads again, they are reset (the caches start a
 * new epoch): nothing learnt before the gap is trusted after it.
 */
import type { Database } from "../db/index.js";
import { logHorizon, readChanges, trimChanges, type LogPosition } from "../store/changes.js";

/** rows older than this are trimmed once the relay (if any) has read them */
const KEEP_SECONDS = 600;
/** ...and past this whatever the relay has read (it catches up by scanning) */
const KEEP_HARD_SECONDS = 7 * 86_400;

export type WalletChange = { userId: number; version: number };

export interface ChangeSubscriber {
  /** changes committed by anyone; awaited before a writer that published them answers */
  onChanges(changes: WalletChange[]): Promise<void> | void;
  /** changes may have been missed: forget whatever was learnt before */
  onReset(): Promise<void> | void;
}

export type FeedOptions = { pollMs?: number; onError?: (err: unknown) => void };

/** (user, version) pairs as the database lists them: u1, v1, u2, v2, ... */
export function pairsToChanges(pairs: number[]): WalletChange[] {
  const out: WalletChange[] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) out.push({ userId: pairs[i]!, version: pairs[i + 1]! });
  return out;
}

export class ChangeFeed {
  private state: "stopped" | "up" | "down" = "stopped";
  private position?: LogPosition;
  private readonly subscribers: ChangeSubscriber[] = [];
  private readonly transferWakers = new Set<() => void>();
  private timer?: NodeJS.Timeout;
  private reading?: Promise<void>;
  /** when the log was last read: a reader that stalls long enough may miss trimmed rows */
  private lastRead = 0;
  private lastTrim = Date.now();

  constructor(
    private readonly db: Database,
    private readonly opts: FeedOptions = {},
  ) {}

  /** Reading the log, and every subscriber reset since the last gap. */
  get up(): boolean {
    return this.state === "up";
  }

  subscribe(s: ChangeSubscriber): void {
    this.subscribers.push(s);
  }

  /** fn runs when async transfers were accepted (here or anywhere), and after a gap. */
  onTransfers(fn: () => void): () => void {
    this.transferWakers.add(fn);
    return () => this.transferWakers.delete(fn);
  }

  /** Starts reading from now (what came before is no cache's concern: they start empty). */
  async start(): Promise<void> {
    if (this.state !== "stopped") return;
    this.state = "down";
    await this.read();
    this.schedule();
  }

  /**
   * This process's own commit: its changes reach the subscribers now. Even while the
   * feed is down: a version only moves up, and a shared cache (Redis) that other
   * instances read from must not miss this writer's versions (they route reads to a
   * replica by them). The subscribers are reset when the feed is back anyway.
   */
  async publish(changes: WalletChange[], accepted: number): Promise<void> {
    if (changes.length > 0 && this.state !== "stopped") for (const s of this.subscribers) await s.onChanges(changes);
    if (accepted > 0) this.wakeWorkers();
  }

  async close(): Promise<void> {
    this.state = "stopped";
    clearTimeout(this.timer);
    await this.reading;
  }

  private schedule(): void {
    if (this.state === "stopped") return;
    this.timer = setTimeout(() => {
      this.reading = this.read().finally(() => this.schedule());
    }, this.opts.pollMs ?? 200);
    this.timer.unref();
  }

  private wakeWorkers(): void {
    for (const wake of this.transferWakers) wake();
  }

  private async read(): Promise<void> {
    try {
      const stalled = Date.now() - this.lastRead > 60_000;
      if (!this.position || this.state !== "up" || stalled) {
        // after a gap (or at the start): from the horizon now, with everything forgotten
        this.position = await logHorizon(this.db);
        for (const s of this.subscribers) await s.onReset();
        this.lastRead = Date.now();
        if (this.state === "stopped") return;
        this.state = "up";
        this.wakeWorkers();
        return;
      }
      for (;;) {
        const { rows, next } = await readChanges(this.db, this.position, 500);
        // the rows read at once reach each subscriber at once: one Redis call per read, not per row
        const changes: WalletChange[] = [];
        let accepted = 0;
        for (const row of rows) {
          changes.push(...pairsToChanges(row.changes.map(Number)));
          accepted += row.accepted;
        }
        if (changes.length > 0) for (const s of this.subscribers) await s.onChanges(changes);
        this.position = next;
        this.lastRead = Date.now();
        if (accepted > 0) this.wakeWorkers();
        if (rows.length < 500) break;
      }
      // any reader may trim (idempotent); once a minute is plenty
      if (Date.now() - this.lastTrim > 60_000) {
        this.lastTrim = Date.now();
        await trimChanges(this.db, KEEP_SECONDS, KEEP_HARD_SECONDS);
      }
    } catch (err) {
      if (this.state === "up") this.opts.onError?.(err);
      if (this.state !== "stopped") this.state = "down";
    }
  }
}
