/**
 * What the database says changed. One LISTEN connection per process hears every
 * committed change of a wallet, whoever made it (this process, another instance,
 * `wallet worker`, the direct-mode CLI, a function called from psql): the money
 * functions send the new versions with pg_notify, which PostgreSQL delivers only on
 * commit. Subscribers (the caches, long polls) follow them.
 *
 * If the connection is lost, notifications may be missed: subscribers are reset
 * (the caches start a new epoch) when it is back, and say "not up" until then, so
 * nothing learnt before the loss is trusted after it. A heartbeat finds a
 * connection that died without a word.
 *
 * A writer that must not answer before the caches know (read-your-writes) takes a
 * ticket for its batch's token before sending it, and waits on it after the commit.
 */
import type { Database, Listener } from "../db/index.js";
import { backoffMs, sleep } from "../retry.js";

export const CHANGES_CHANNEL = "wallet_changes";
export const TRANSFERS_CHANNEL = "wallet_transfers";

export type WalletChange = { userId: number; version: number };

export interface ChangeSubscriber {
  /** changes committed by anyone; awaited before a waiting writer hears back */
  onChanges(changes: WalletChange[]): Promise<void> | void;
  /** notifications may have been missed: forget whatever was learnt from earlier ones */
  onReset(): Promise<void> | void;
}

export type Ticket = {
  /** true once the caches know of the batch's changes; false past timeoutMs */
  settled(timeoutMs: number): Promise<boolean>;
  cancel(): void;
};

export type FeedOptions = { heartbeatMs?: number; onError?: (err: unknown) => void };

type State = "starting" | "up" | "down" | "closed";

export class ChangeFeed {
  private state: State = "starting";
  private listener?: Listener;
  private readonly subscribers: ChangeSubscriber[] = [];
  private readonly transferWakers = new Set<() => void>();
  private readonly waiters = new Map<string, () => void>();
  private readonly upWaiters = new Set<() => void>();
  private chain: Promise<void> = Promise.resolve();
  private heartbeat?: NodeJS.Timeout;

  constructor(
    private readonly db: Database,
    private readonly opts: FeedOptions = {},
  ) {}

  private get closed(): boolean {
    return this.state === "closed";
  }

  /** Listening, and every subscriber reset since the last loss. */
  get up(): boolean {
    return this.state === "up";
  }

  subscribe(s: ChangeSubscriber): void {
    this.subscribers.push(s);
  }

  /** fn runs when an async transfer is accepted, and after a reconnect (work may be waiting). */
  onTransfers(fn: () => void): () => void {
    this.transferWakers.add(fn);
    return () => this.transferWakers.delete(fn);
  }

  /** Connects (retrying in the background if the database is not there yet). */
  async start(): Promise<void> {
    if (this.state !== "starting") return;
    await this.connect(true);
  }

  /** Before sending a batch with this token. */
  expect(token: string): Ticket {
    let done = false;
    let settle: (ok: boolean) => void = () => undefined;
    const result = new Promise<boolean>((resolve) => (settle = resolve));
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      this.waiters.delete(token);
      this.upWaiters.delete(onUp);
      settle(ok);
    };
    const onUp = () => finish(true);
    this.waiters.set(token, onUp);
    return {
      settled: async (timeoutMs) => {
        // a feed that comes back (up again after a loss) has reset every subscriber: that covers this batch too
        this.upWaiters.add(onUp);
        const timer = setTimeout(() => finish(false), timeoutMs);
        const ok = await result;
        clearTimeout(timer);
        return ok;
      },
      cancel: () => finish(false),
    };
  }

  /** A writer could not wait for its changes: make every subscriber forget, so nothing stale is served. */
  desync(): Promise<void> {
    return this.enqueue(() => this.resetSubscribers());
  }

  async close(): Promise<void> {
    this.state = "closed";
    clearInterval(this.heartbeat);
    await this.listener?.close();
    for (const w of [...this.waiters.values(), ...this.upWaiters]) w();
    await this.chain;
  }

  private enqueue(fn: () => Promise<void> | void): Promise<void> {
    const next = this.chain.then(fn).catch((err: unknown) => this.opts.onError?.(err));
    this.chain = next;
    return next;
  }

  private async resetSubscribers(): Promise<void> {
    for (const s of this.subscribers) await s.onReset();
  }

  private async connect(firstAttempt: boolean): Promise<void> {
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        let listener: Listener | undefined = undefined;
        listener = await this.db.listen([CHANGES_CHANNEL, TRANSFERS_CHANNEL], {
          onNotify: (channel, payload) => this.notified(channel, payload),
          onDown: (err) => listener && this.lost(listener, err),
        });
        if (this.closed) return void (await listener.close());
        this.listener = listener;
        // queued behind whatever the old connection delivered; nothing cached before counts
        await this.enqueue(() => this.resetSubscribers());
        if (this.listener !== listener) continue; // lost again meanwhile
        this.state = "up";
        this.beat(listener);
        for (const w of [...this.upWaiters]) w();
        for (const wake of this.transferWakers) wake();
        return;
      } catch (err) {
        this.opts.onError?.(err);
        if (firstAttempt) {
          // do not hold the caller up: keep trying in the background
          firstAttempt = false;
          this.state = "down";
          void this.connect(false);
          return;
        }
        await sleep(backoffMs(attempt, 100, 2000) + 50);
      }
    }
  }

  private lost(listener: Listener, err: unknown): void {
    if (this.listener !== listener || this.state === "closed") return;
    this.listener = undefined;
    this.state = "down";
    clearInterval(this.heartbeat);
    this.opts.onError?.(err);
    void listener.close();
    void this.connect(false);
  }

  private beat(listener: Listener): void {
    const every = this.opts.heartbeatMs ?? 1000;
    clearInterval(this.heartbeat);
    this.heartbeat = setInterval(() => {
      listener.ping(Math.max(2000, every)).catch((err: unknown) => this.lost(listener, err));
    }, every);
    this.heartbeat.unref();
  }

  private notified(channel: string, payload: string): void {
    if (channel === TRANSFERS_CHANNEL) {
      for (const wake of this.transferWakers) wake();
      return;
    }
    // "<1 on the last chunk, else 0><token> <user>,<version>,<user>,<version>..." (see wallet_notify)
    const space = payload.indexOf(" ");
    const last = payload[0] === "1";
    const token = payload.slice(1, space);
    const numbers = space + 1 < payload.length ? payload.slice(space + 1).split(",") : [];
    const changes: WalletChange[] = [];
    for (let i = 0; i + 1 < numbers.length; i += 2) {
      changes.push({ userId: Number(numbers[i]), version: Number(numbers[i + 1]) });
    }
    void this.enqueue(async () => {
      if (changes.length > 0) for (const s of this.subscribers) await s.onChanges(changes);
      if (last && token) this.waiters.get(token)?.();
    });
  }
}
