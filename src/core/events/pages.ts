/** A wallet's events: after a sequence, oldest first, and (with wait) a long poll for the next. */
import type { CoreContext } from "../context.js";
import { toEvent, type WalletEvent } from "./format.js";
import type { EventWaiters } from "./waiters.js";
import { routedEvents } from "../reads/reads.js";

export type EventPage = { events: WalletEvent[]; next_after: number };

export async function getEvents(
  ctx: CoreContext,
  q: { userId: number; after: number; limit: number; waitMs: number },
  waiters?: EventWaiters,
): Promise<EventPage> {
  const deadline = Date.now() + q.waitMs;
  const release = q.waitMs > 0 && waiters ? waiters.admit(q.userId) : undefined;
  try {
    return await poll(ctx, q, deadline, waiters);
  } finally {
    release?.();
  }
}

async function poll(
  ctx: CoreContext,
  q: { userId: number; after: number; limit: number; waitMs: number },
  deadline: number,
  waiters?: EventWaiters,
): Promise<EventPage> {
  for (;;) {
    // registered before the read, so that an event committed in between wakes it
    const waiter = q.waitMs > 0 && waiters ? waiters.expect(q.userId) : undefined;
    // a long poll asked again after the last event it got, with no change since: no read
    const quiet = waiter && ctx.feed?.up && waiters!.quiet(q.userId, q.after);
    // woken watchers of one wallet share one read
    const rows = quiet
      ? []
      : waiters
        ? await waiters.reads.read(ctx, q.userId, q.after, q.limit)
        : await routedEvents(ctx, q.userId, q.after, q.limit);
    const left = deadline - Date.now();
    if (rows.length > 0 || !waiter || left <= 0 || waiters?.closed) {
      waiter?.cancel();
      const events = rows.map(toEvent);
      return { events, next_after: events.at(-1)?.sequence ?? q.after };
    }
    // while the feed is down nothing would wake it: look again every second
    await waiter.wait(ctx.feed?.up ? left : Math.min(left, 1000));
  }
}
