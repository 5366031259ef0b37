/**
 * Long polls: a request waiting for a wallet's next event holds no database
 * connection. It waits here, woken by the change feed (this process's own writes at
 * once, everyone else's when the process next reads the change log) when its wallet
 * changes, or by a reset.
 */
import type { ChangeSubscriber, WalletChange } from "../changes/feed.js";
import { WalletError } from "../errors.js";
import { SharedEventReads } from "./sharedReads.js";

/** the default cap of open watchers (long polls and WatchEvents streams together) per user */
export const WATCHERS_PER_USER = 8;
/** wallets whose last version is kept for quiet() */
const KNOWN_MAX = 100_000;

export class EventWaiters implements ChangeSubscriber {
  private readonly byUser = new Map<number, Set<() => void>>();
  /** open watchers per user, for the cap */
  private readonly open = new Map<number, number>();
  private openTotal = 0;
  /** the reads of woken watchers, shared per wallet */
  readonly reads = new SharedEventReads();
  /**
   * The last version the change feed told of, for wallets that have had watchers (the
   * oldest forgotten past KNOWN_MAX). A long poll asked again with next_after, when no
   * change has come since, has nothing to read: it waits without a read (see quiet).
   */
  private readonly known = new Map<number, number>();
  /** shutting down: waiters answer at once with what they have */
  closed = false;
  /** waiters that have looked and are now asleep until their wallet changes */
  sleeping = 0;

  constructor(private readonly perUser = WATCHERS_PER_USER) {}

  /**
   * A watcher's place, held for its whole life (a long poll, a WatchEvents stream):
   * past perUser open ones for the user, refused with rate_limited. Its one rate-limit
   * token pays for the request, not for the reads each commit causes, so the number
   * of watchers is what bounds the work one user can make every write cost.
   */
  admit(userId: number): () => void {
    const n = this.open.get(userId) ?? 0;
    if (n >= this.perUser) {
      throw new WalletError(
        "rate_limited",
        `Too many open watchers: at most ${this.perUser} long polls and event streams at once per user.`,
      );
    }
    this.open.set(userId, n + 1);
    this.openTotal += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.openTotal -= 1;
      const left = (this.open.get(userId) ?? 1) - 1;
      if (left > 0) this.open.set(userId, left);
      else this.open.delete(userId);
    };
  }

  /** open long polls and event streams, over every user */
  get watching(): number {
    return this.openTotal;
  }

  close(): void {
    this.closed = true;
    this.onReset();
  }

  onChanges(changes: WalletChange[]): void {
    for (const c of changes) {
      const waiting = this.byUser.get(c.userId);
      if (waiting || this.known.has(c.userId)) this.learn(c.userId, c.version);
      if (!waiting) continue;
      this.byUser.delete(c.userId);
      for (const wake of waiting) wake();
    }
  }

  /** Notifications may have been missed: every waiter looks again. */
  onReset(): void {
    this.known.clear();
    const all = [...this.byUser.values()];
    this.byUser.clear();
    for (const set of all) for (const wake of set) wake();
  }

  private learn(userId: number, version: number): void {
    const v = Math.max(version, this.known.get(userId) ?? 0);
    this.known.delete(userId); // to the newest end
    this.known.set(userId, v);
    if (this.known.size > KNOWN_MAX) this.known.delete(this.known.keys().next().value!);
  }

  /**
   * true when the feed has told of this wallet's changes up to a version at or below
   * `after`: no event after it has been committed, or the feed (up, with nothing missed
   * since: a reset forgets) will tell of it and wake the waiter. Only with the feed up.
   */
  quiet(userId: number, after: number): boolean {
    const v = this.known.get(userId);
    return v !== undefined && v <= after;
  }

  /** Registered before the caller looks, so that nothing committed in between is missed. */
  expect(userId: number): { wait(ms: number): Promise<void>; cancel(): void } {
    let wake: () => void = () => undefined;
    const woken = new Promise<void>((resolve) => (wake = resolve));
    const set = this.byUser.get(userId) ?? new Set();
    set.add(wake);
    this.byUser.set(userId, set);
    const cancel = () => {
      set.delete(wake);
      if (set.size === 0 && this.byUser.get(userId) === set) this.byUser.delete(userId);
    };
    return {
      wait: async (ms) => {
        let timer: NodeJS.Timeout | undefined;
        this.sleeping++;
        await Promise.race([woken, new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
        this.sleeping--;
        clearTimeout(timer);
        cancel();
      },
      cancel,
    };
  }

  get waiting(): number {
    let n = 0;
    for (const s of this.byUser.values()) n += s.size;
    return n;
  }
}
