/**
 * WatchEvents: the caller's events after a sequence, then each new one as it
 * commits. Every watcher waits on the process's one change feed (the EventWaiters
 * the HTTP long polls use) and reads its wallet's next page with getEvents; nothing
 * holds a database connection while it waits.
 *
 * Memory is bounded by pulling, not pushing: a page is read only when the previous
 * one has been taken by the transport, and when write() says the stream's buffer is
 * full the loop waits for 'drain' before writing more. So a watcher that reads slowly
 * only slows itself (the database is its buffer), and one that stops reading holds
 * at most a page and the transport's buffers. If the transport takes nothing from it
 * for stallMs it is ended with RESOURCE_EXHAUSTED and `wallet-resume-after`: the last sequence
 * written, which it receives just before that status, so that a new WatchEvents
 * after it continues with no gap and no repeat.
 */
import { once } from "node:events";
import * as grpc from "@grpc/grpc-js";
import { getEvents } from "../../core/events/pages.js";
import type { WalletEvent } from "../../core/events/format.js";
import * as s from "../schemas.js";
import type { Services } from "../services.js";
import { parse, type Message, type Pipeline, type Req } from "./pipeline.js";
import { ENUM_PREFIX, MD, toEnum } from "./proto.js";
import { walletStatus, type GrpcStatus } from "./status.js";

export type WatchOptions = {
  /** how long a watcher may leave its buffer full before it is ended */
  stallMs: number;
  /** events read per query */
  pageSize: number;
};

/** The open streams, so that shutdown can end them and tests can see what they hold. */
export class Watchers {
  private readonly open = new Map<grpc.ServerWritableStream<Req, Message>, () => void>();
  closing = false;

  close(): void {
    this.closing = true;
    for (const stop of this.open.values()) stop();
  }

  get count(): number {
    return this.open.size;
  }

  /** messages written and not yet taken by the transport, over every watcher */
  get buffered(): number {
    let n = 0;
    for (const call of this.open.keys()) n += call.writableLength;
    return n;
  }

  add(call: grpc.ServerWritableStream<Req, Message>, stop: () => void): void {
    this.open.set(call, stop);
  }

  delete(call: grpc.ServerWritableStream<Req, Message>): void {
    this.open.delete(call);
  }
}

// a safety net only: a waiter is woken by its wallet's change as soon as it commits
const IDLE_MS = 30_000;

const message = (e: WalletEvent): Message => ({ ...e, type: toEnum(ENUM_PREFIX.eventType, e.type) });

function ended(code: grpc.status, details: string, after: number): GrpcStatus {
  const md = new grpc.Metadata();
  md.set(MD.resumeAfter, String(after));
  return { code, details, metadata: md };
}

/**
 * true once the buffer has room again (or the watch is over); false after ms in which
 * the transport took none of it. Progress, not an empty buffer, is what counts: a
 * busy event loop drains slowly without the watcher being at fault.
 */
async function drained(call: grpc.ServerWritableStream<Req, Message>, ms: number, stopped: Promise<void>) {
  for (;;) {
    const before = call.writableLength;
    const ac = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const room = await Promise.race([
      once(call, "drain", { signal: ac.signal }).then(
        () => true,
        () => false, // aborted below, once the race is over
      ),
      stopped.then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms))),
    ]).finally(() => {
      clearTimeout(timer);
      ac.abort();
    });
    if (room) return true;
    if (call.writableLength >= before) return false;
  }
}

export function watchHandler(p: Pipeline, svc: Services, watchers: Watchers, opts: WatchOptions) {
  const waiters = svc.eventWaiters;
  return p.stream("WatchEvents", { operationId: "events" }, async (call, info) => {
    let after = parse(s.EventsQuery, { after: String(call.request.after ?? 0) }).after;
    // one place among the user's watchers (long polls and streams) for the stream's life
    const release = waiters.admit(info.userId);
    let stop: () => void = () => undefined;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    call.once("cancelled", stop);
    watchers.add(call, stop);
    // registered before each read, so that an event committed in between wakes it
    let waiter = waiters.expect(info.userId);
    try {
      for (;;) {
        if (call.cancelled) return undefined;
        if (watchers.closing || waiters.closed) {
          const st = walletStatus("unavailable", `The server is shutting down; resume after sequence ${after}.`);
          st.metadata.set(MD.resumeAfter, String(after));
          return st;
        }
        // woken by a change it has already sent (read with an earlier one): no read
        const quiet = svc.ctx.feed.up && waiters.quiet(info.userId, after);
        const page = quiet
          ? { events: [] }
          : await getEvents(svc.ctx, { userId: info.userId, after, limit: opts.pageSize, waitMs: 0 }, waiters);
        for (const e of page.events) {
          if (call.cancelled || watchers.closing) break;
          const room = call.write(message(e));
          after = e.sequence;
          if (!room && !(await drained(call, opts.stallMs, stopped))) {
            svc.log.warn({ requestId: info.requestId, userId: info.userId, after }, "slow event watcher ended");
            return ended(
              grpc.status.RESOURCE_EXHAUSTED,
              `The watcher took no event for ${opts.stallMs} ms; resume after sequence ${after}.`,
              after,
            );
          }
        }
        // a short page is everything committed before the read, and the waiter was
        // registered before it: wait for the next change instead of reading again (one
        // read per change, not two). While the feed is down nothing would wake it: look
        // again every second
        if (page.events.length < opts.pageSize) {
          await Promise.race([waiter.wait(svc.ctx.feed.up ? IDLE_MS : 1000), stopped]);
        }
        waiter.cancel();
        waiter = waiters.expect(info.userId);
      }
    } finally {
      waiter.cancel();
      release();
      watchers.delete(call);
    }
  });
}
