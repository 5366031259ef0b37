/**
 * Long polls: a request waiting for a wallet's next event holds no database
 * connection. It waits here, woken by the change feed (this process's own writes at
 * once, everyone else's when the process next reads the change log) when its wallet
 * changes, or by a reset.
 */
import type { ChangeSubscriber, WalletChange } from "../changes/feed.js";

export class EventWaiters implements ChangeSubscriber {
  private readonly byUser = new Map<number, Set<() => void>>();
  /** shutting down: waiters answer at once with what they have */
  closed = false;
  /** waiters that have looked and are now asleep until their wallet changes */
  sleeping = 0;

  close(): void {
    this.closed = true;
    this.onReset();
  }

  onChanges(changes: WalletChange[]): void {
    for (const c of changes) {
      const waiting = this.byUser.get(c.userId);
      if (!waiting) continue;
      this.byUser.delete(c.userId);
      for (const wake of waiting) wake();
    }
  }

  /** Notifications may have been missed: every waiter looks again. */
  onReset(): void {
    const all = [...this.byUser.values()];
    this.byUser.clear();
    for (const set of all) for (const wake of set) wake();
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
