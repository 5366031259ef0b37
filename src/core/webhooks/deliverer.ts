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
import type { EventRow } from "../store/events.js";
import { backoffMs, sleep } from "../retry.js";
import { attempt, ATTEMPT_TIMEOUT_MS, webhookAgent, type AttemptResult } from "./send.js";
import { loadTargets, oldestPending, type Target } from "./store.js";

/** a claimed user's lease: longer than one attempt, so two never overlap */
const LEASE_MS = ATTEMPT_TIMEOUT_MS + 5_000;
const CAP_MS = 3_600_000;

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

type Claimed = { id: string; user_id: number; seq: number; attempts: number };

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
    this.feed?.subscribe({ onChanges: () => this.wake?.(), onReset: () => this.wake?.() });
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
      "select id::text as id, user_id, seq, attempts from wallet_webhook_claim($1, $2, $3)",
      [t.id, free, LEASE_MS],
      { name: "webhook_claim" },
    );
    if (claimed.length === 0) return 0;
    const events = await this.events(claimed);
    for (const c of claimed) {
      this.inFlight.set(t.id, (this.inFlight.get(t.id) ?? 0) + 1);
      const p = this.send(t, c, events.get(`${c.user_id}:${c.seq}`)).finally(() => {
        this.attempts.delete(p);
        this.inFlight.set(t.id, (this.inFlight.get(t.id) ?? 1) - 1);
        // the user's next event may be due at once
        if (this.running) void this.pump(this.targets.get(t.id) ?? t).catch((err) => this.opts.onError?.(err));
      });
      this.attempts.add(p);
    }
    return claimed.length;
  }

  private async events(claimed: Claimed[]): Promise<Map<string, string>> {
    const rows = await this.db.query<EventRow>(
      `select j.user_id, j.seq, j.id::text as id, j.currency, j.event, j.kind, j.amount, j.balance_after,
              j.available_after, j.counterparty_user_id, j.transfer_id::text as transfer_id,
              j.hold_id::text as hold_id, j.reverses::text as reverses, j.reason, wallet_iso(j.created_at) as created_at
         from journal j join unnest($1::bigint[], $2::bigint[]) k(u, s) on j.user_id = k.u and j.seq = k.s`,
      [claimed.map((c) => c.user_id), claimed.map((c) => c.seq)],
    );
    return new Map(rows.map((r) => [`${r.user_id}:${r.seq}`, JSON.stringify(toEvent(r))]));
  }

  private async send(t: Target, c: Claimed, body: string | undefined): Promise<void> {
    const started = performance.now();
    const result: AttemptResult =
      body === undefined
        ? { ok: false, status: null, error: "the event is no longer in the journal" }
        : await attempt(this.agent!, {
            url: t.url,
            endpointId: t.id,
            eventId: `${c.user_id}:${c.seq}`,
            body,
            secrets: t.secrets,
            allowPrivate: this.opts.allowPrivate,
          });
    const seconds = (performance.now() - started) / 1000;
    for (let tries = 0; ; tries++) {
      try {
        const [r] = await this.db.query<{ s: "delivered" | "retry" | "failed" | null }>(
          "select wallet_webhook_done($1, $2, $3, $4, $5, $6, $7) as s",
          [
            c.id,
            result.ok,
            result.status,
            result.error,
            body === undefined ? 0 : this.opts.maxAttempts,
            this.opts.retryBaseMs,
            CAP_MS,
          ],
          { name: "webhook_done" },
        );
        if (r!.s) {
          this.opts.onAttempt?.(r!.s, seconds);
          if (r!.s === "delivered") this.counts.delivered++;
          else if (r!.s === "retry") this.counts.retried++;
          else this.counts.failed++;
        }
        return;
      } catch (err) {
        // not recorded: the lease runs out and the delivery is tried again (at least once)
        this.opts.onError?.(err);
        if (tries >= 2 || !this.running) return;
        await sleep(200 * (tries + 1));
      }
    }
  }
}
