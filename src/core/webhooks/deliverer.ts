/**
 * Webhook delivery, in any number of processes at once, everything kept in the database:
 * - the enqueuer reads the change log (like the events relay, never the request path)
 *   and writes a delivery per matching event and endpoint, with its new position, in
 *   one transaction (wallet_webhook_enqueue; one process at a time, by a row lock);
 * - per endpoint, a sender claims the users whose oldest pending delivery may go,
 *   leased for longer than an attempt can last (wallet_webhook_claim), sends it and
 *   records the outcome (wallet_webhook_done), which releases the user's next event.
 *   A user's events go out in sequence order; a slow or dead receiver holds back only
 *   its own endpoint's users, each endpoint has at most `concurrency` attempts in
 *   flight here, and a process that dies leaves leases that expire.
 */
import type { Agent } from "undici";
import type { ChangeFeed } from "../changes/feed.js";
import type { Database } from "../db/index.js";
import { toEvent } from "../events/format.js";
import { EVENT_COLUMNS, type EventRow } from "../store/events.js";
import { backoffMs, sleep } from "../retry.js";
import { attempt, ATTEMPT_TIMEOUT_MS, webhookAgent, type AttemptResult } from "./send.js";
import { loadTargets, oldestPending, purgeDelivered, type Target } from "./store.js";

/** a claimed user's lease: longer than one attempt, so two never overlap */
const LEASE_MS = ATTEMPT_TIMEOUT_MS + 5_000;
const CAP_MS = 3_600_000;
/** deliveries of one user sent in a row on one claim before its slot goes back to the others */
const FOLLOW_ON = 16;
/** delivered deliveries are listed this long, then purged (pending and failed ones stay) */
const KEEP_DELIVERED_DAYS = 7;

export type DelivererOptions = {
  allowPrivate: boolean;
  retryBaseMs: number;
  maxAttempts: number;
  concurrency: number;
  /** how often the database is asked for due retries and new endpoints */
  pollMs?: number;
  onAttempt?: (outcome: "delivered" | "retry" | "failed", seconds: number) => void;
  onOldest?: (ages: Map<string, number>) => void;
  onError?: (err: unknown) => void;
};

/** a claimed delivery and its event's journal row (null columns: the event is gone) */
type Claimed = { delivery_id: string; delivery_attempts: number; d_user: number; d_seq: number } & {
  [K in keyof EventRow]: EventRow[K] | null;
};

export class WebhookDeliverer {
  private running = false;
  private loop?: Promise<void>;
  private wake?: () => void;
  private agent?: Agent;
  private targets = new Map<string, Target>();
  private readonly inFlight = new Map<string, number>();
  private readonly attempts = new Set<Promise<void>>();
  private readonly pumping = new Set<string>();
  private readonly again = new Set<string>();
  private measuredAt = 0;
  private purgedAt = 0;
  readonly counts = { enqueued: 0, delivered: 0, retried: 0, failed: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: DelivererOptions,
    private readonly feed?: ChangeFeed,
  ) {}

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.agent = webhookAgent(this.opts.allowPrivate);
    // with no endpoint, a commit is nobody's news: the timer's pass moves the position
    const news = () => {
      if (this.targets.size > 0) this.wake?.();
    };
    this.feed?.subscribe({ onChanges: news, onReset: news });
    this.loop = this.run();
  }

  /** No new attempts; those in flight end (each within ATTEMPT_TIMEOUT_MS) and are recorded. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    await Promise.all([...this.attempts]);
    await this.agent?.close().catch(() => undefined);
  }

  private async run(): Promise<void> {
    for (let failures = 0; this.running;) {
      try {
        const moved = await this.step();
        failures = 0;
        if (!moved) await this.idle(this.opts.pollMs ?? 250);
      } catch (err) {
        this.opts.onError?.(err);
        await sleep(backoffMs(failures++, 200, 5000) + 100);
      }
    }
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.wake = done;
    });
  }

  /** One pass: enqueue what the log has, then let every endpoint claim what is due. */
  async step(): Promise<boolean> {
    let enqueued = 0;
    for (;;) {
      const [r] = await this.db.query<{ n: number }>("select wallet_webhook_enqueue(500) as n", [], {
        name: "webhook_enqueue",
      });
      if (r!.n <= 0) break;
      enqueued += r!.n;
      this.counts.enqueued += r!.n;
    }
    await this.refreshTargets();
    let claimed = 0;
    for (const t of this.targets.values()) claimed += await this.pump(t);
    if (Date.now() - this.purgedAt > 3_600_000) {
      this.purgedAt = Date.now();
      await purgeDelivered(this.db, KEEP_DELIVERED_DAYS);
    }
    if (this.opts.onOldest && Date.now() - this.measuredAt > 5_000) {
      this.measuredAt = Date.now();
      this.opts.onOldest(await oldestPending(this.db));
    }
    return enqueued > 0 || claimed > 0;
  }

  private async refreshTargets(): Promise<void> {
    this.targets = new Map((await loadTargets(this.db)).map((t) => [t.id, t]));
  }

  /** Claims as many of the endpoint's due users as it has free slots, and sends their next events. */
  private async pump(t: Target): Promise<number> {
    // one claim at a time per endpoint (the slots are counted here); one asked for meanwhile runs after
    if (this.pumping.has(t.id)) {
      this.again.add(t.id);
      return 0;
    }
    this.pumping.add(t.id);
    try {
      return await this.claimAndSend(t);
    } finally {
      this.pumping.delete(t.id);
      if (this.again.delete(t.id) && this.running) void this.pump(t).catch((err) => this.opts.onError?.(err));
    }
  }

  private async claimAndSend(t: Target): Promise<number> {
    const free = this.opts.concurrency - (this.inFlight.get(t.id) ?? 0);
    if (free <= 0 || !this.running) return 0;
    const claimed = await this.db.query<Claimed>(
      `select c.id::text as delivery_id, c.attempts as delivery_attempts, c.user_id as d_user, c.seq as d_seq,
              ${EVENT_COLUMNS}
         from wallet_webhook_claim($1, $2, $3) c left join journal j on j.user_id = c.user_id and j.seq = c.seq`,
      [t.id, free, LEASE_MS],
      { name: "webhook_claim" },
    );
    for (const c of claimed) {
      this.inFlight.set(t.id, (this.inFlight.get(t.id) ?? 0) + 1);
      const p = this.sendAll(t, c).finally(() => {
        this.attempts.delete(p);
        this.inFlight.set(t.id, (this.inFlight.get(t.id) ?? 1) - 1);
        // the slot is free: others of the endpoint's users may be due
        if (this.running) void this.pump(this.targets.get(t.id) ?? t).catch((err) => this.opts.onError?.(err));
      });
      this.attempts.add(p);
    }
    return claimed.length;
  }

  /** A user's due deliveries one after another, up to FOLLOW_ON in a row (then the slot is released). */
  private async sendAll(t: Target, first: Claimed): Promise<void> {
    let c: Claimed | undefined = first;
    for (let n = 1; c; n++) c = await this.send(t, c, this.running && n < FOLLOW_ON ? LEASE_MS : 0);
  }

  /** One attempt and its outcome recorded; the user's next delivery when the lease is kept. */
  private async send(t: Target, c: Claimed, keepLeaseMs: number): Promise<Claimed | undefined> {
    const started = performance.now();
    const body = c.id === null ? undefined : JSON.stringify(toEvent(c as EventRow));
    const result: AttemptResult =
      body === undefined
        ? { ok: false, status: null, error: "the event is no longer in the journal" }
        : await attempt(this.agent!, {
            url: t.url,
            endpointId: t.id,
            eventId: `${c.d_user}:${c.d_seq}`,
            body,
            secrets: t.secrets,
            allowPrivate: this.opts.allowPrivate,
          });
    const seconds = (performance.now() - started) / 1000;
    for (let tries = 0; ; tries++) {
      try {
        const [r] = await this.db.query<Claimed & { status: "delivered" | "retry" | "failed" }>(
          `select d.status, d.next_id::text as delivery_id, d.next_attempts as delivery_attempts,
                  $9::bigint as d_user, d.next_seq as d_seq, ${EVENT_COLUMNS}
             from wallet_webhook_done($1, $2, $3, $4, $5, $6, $7, $8) d
             left join journal j on j.user_id = $9 and j.seq = d.next_seq`,
          [
            c.delivery_id,
            result.ok,
            result.status,
            result.error,
            body === undefined ? 0 : this.opts.maxAttempts,
            this.opts.retryBaseMs,
            CAP_MS,
            keepLeaseMs,
            c.d_user,
          ],
          { name: "webhook_done" },
        );
        if (!r) return undefined; // gone with its endpoint
        this.opts.onAttempt?.(r.status, seconds);
        if (r.status === "delivered") this.counts.delivered++;
        else if (r.status === "retry") this.counts.retried++;
        else this.counts.failed++;
        return r.delivery_id === null ? undefined : r;
      } catch (err) {
        // not recorded: the lease runs out and the delivery is tried again (at least once)
        this.opts.onError?.(err);
        if (tries >= 2 || !this.running) return undefined;
        await sleep(200 * (tries + 1));
      }
    }
  }
}
