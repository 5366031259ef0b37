/**
 * The relay: publishes the journal's events to NATS JetStream, each exactly once in
 * the stream and in order per wallet, however long NATS or the relay was away.
 *
 * - The change log (written with the events, in the same transaction) names the
 *   wallets with new events; the relay reads it in commit order from where it got to
 *   (relay_state), and reads each such wallet's events after its cursor, publishing
 *   them one at a time (the next after the previous one's ack), with Nats-Msg-Id
 *   `<user>:<seq>` and Nats-Expected-Last-Subject-Sequence: the stream itself refuses
 *   a duplicate or an out-of-order message, whatever the duplicate window.
 * - The first time a session touches a wallet, and whenever the stream refuses a
 *   publish, it reads the subject's last message: the stream, not the cursor, says
 *   where to go on (a relay that died between the ack and saving its cursor is
 *   caught up here).
 * - One relay is active at a time (a PostgreSQL advisory lock on a session of its
 *   own); others wait to take over. Wallets are published concurrently.
 */
import { connect, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  jetstreamManager,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
} from "@nats-io/jetstream";
import type { ChangeFeed } from "../changes/feed.js";
import type { Database, SessionLock } from "../db/index.js";
import { backoffMs, sleep } from "../retry.js";
import { readChanges, type LogPosition } from "../store/changes.js";
import {
  loadCursors,
  relayPosition,
  saveCursors,
  saveRelayPosition,
  selectEvents,
  unpublishedWallets,
  type Cursor,
} from "../store/events.js";
import { toEvent } from "./format.js";
import { ensureStream, lastPublished, subjectOf } from "./stream.js";

export { STREAM, SUBJECTS, subjectOf } from "./stream.js";

/** pg_advisory_lock key: one active relay */
const RELAY_LOCK_KEY = 7_305_146_002;
/** the change log keeps rows a relay has not read this long (see trimChanges): past it, catch up by scanning */
export const CHANGE_LOG_HARD_SECONDS = 7 * 86_400;

export type RelayOptions = {
  natsUrl: string;
  /** wallets published at once */
  concurrency?: number;
  /** the stream's duplicate window when the relay creates it (ms) */
  duplicateWindowMs?: number;
  onError?: (err: unknown) => void;
  onActive?: () => void;
  onPublished?: (n: number) => void;
};

type State = { published: number; streamSeq: number; verified: boolean };

export class EventRelay {
  private running = false;
  private loop?: Promise<void>;
  private nc?: NatsConnection;
  private js?: JetStreamClient;
  private jsm?: JetStreamManager;
  private lock?: SessionLock;
  private readonly states = new Map<number, State>();
  private position?: LogPosition;
  private savedAt = 0;
  private wake?: () => void;
  private unlisten?: () => void;
  readonly counts = { published: 0, resynced: 0, batches: 0 };

  constructor(
    private readonly db: Database,
    private readonly opts: RelayOptions,
    private readonly feed?: ChangeFeed,
  ) {}

  get active(): boolean {
    return this.lock !== undefined;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // new events anywhere wake the relay (it polls every second as well)
    this.feed?.subscribe({ onChanges: () => this.wake?.(), onReset: () => this.wake?.() });
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.unlisten?.();
    await this.lock?.release();
    this.lock = undefined;
    await this.nc?.close().catch(() => undefined);
  }

  private async connectNats(): Promise<void> {
    if (this.nc && !this.nc.isClosed()) return;
    this.nc = await connect({
      servers: this.opts.natsUrl,
      name: "wallet-relay",
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
      timeout: 3000,
    });
    this.jsm = await jetstreamManager(this.nc);
    await ensureStream(this.jsm, this.opts.duplicateWindowMs ?? 120_000);
    this.js = jetstream(this.nc, { timeout: 5000 });
    // a new connection may have missed acks: check every wallet against the stream again
    for (const s of this.states.values()) s.verified = false;
  }

  private async run(): Promise<void> {
    for (let failures = 0; this.running;) {
      try {
        if (!this.lock || !(await this.lock.alive())) {
          this.lock = (await this.db.tryLock(RELAY_LOCK_KEY)) ?? undefined;
          if (!this.lock) {
            await this.idle(2000); // another relay is active
            continue;
          }
          this.states.clear(); // a new session trusts nothing it knew
          this.position = undefined;
          this.opts.onActive?.();
        }
        await this.connectNats();
        const published = await this.step();
        failures = 0;
        if (published === 0) await this.idle(1000);
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

  /** One pass: the wallets the change log names since the relay's position, their new events published. */
  async step(limit = 500): Promise<number> {
    if (this.states.size > 100_000) this.states.clear(); // bounded: a forgotten wallet is verified again
    if (!this.position) {
      const saved = await relayPosition(this.db);
      if (!saved || saved.ageSeconds > CHANGE_LOG_HARD_SECONDS) {
        // no position, or one older than the log keeps: every wallet with unpublished events
        const { users, horizon } = await unpublishedWallets(this.db);
        const n = await this.publishAll(users);
        await this.savePosition({ xid: horizon, id: "0" }, true);
        return n;
      }
      this.position = { xid: saved.xid, id: saved.id };
    }
    const { rows, next } = await readChanges(this.db, this.position, limit);
    const users = new Set<number>();
    for (const r of rows) for (let i = 0; i < r.changes.length; i += 2) users.add(Number(r.changes[i]));
    const n = await this.publishAll([...users]);
    await this.savePosition(next, rows.length > 0);
    return n;
  }

  /** Saved after every pass that read something, else once a minute (its age tells a catch-up is due). */
  private async savePosition(p: LogPosition, moved: boolean): Promise<void> {
    this.position = p;
    if (!moved && Date.now() - this.savedAt < 60_000) return;
    await saveRelayPosition(this.db, p);
    this.savedAt = Date.now();
  }

  private async publishAll(users: number[]): Promise<number> {
    if (users.length === 0) return 0;
    const unknown = users.filter((u) => !this.states.has(u));
    for (const c of await loadCursors(this.db, unknown)) {
      this.states.set(c.user_id, { published: c.published_seq, streamSeq: c.stream_seq, verified: false });
    }
    let published = 0;
    const queue = [...users];
    const done: Cursor[] = [];
    await Promise.all(
      Array.from({ length: Math.min(this.opts.concurrency ?? 32, queue.length) }, async () => {
        for (let u = queue.shift(); u !== undefined; u = queue.shift()) {
          published += await this.publishWallet(u);
          const s = this.states.get(u)!;
          done.push({ user_id: u, published_seq: s.published, stream_seq: s.streamSeq });
        }
      }),
    );
    await saveCursors(this.db, done);
    this.counts.batches++;
    if (published > 0) this.opts.onPublished?.(published);
    return published;
  }

  private async publishWallet(userId: number): Promise<number> {
    let s = this.states.get(userId);
    if (!s) this.states.set(userId, (s = { published: 0, streamSeq: 0, verified: false }));
    if (!s.verified) await this.verify(userId, s);
    let n = 0;
    for (;;) {
      const rows = await selectEvents(this.db, userId, s.published, 500);
      if (rows.length === 0) return n;
      for (const row of rows) {
        if (!this.running) return n;
        try {
          const ack = await this.js!.publish(subjectOf(userId), JSON.stringify(toEvent(row)), {
            msgID: `${userId}:${row.seq}`,
            expect: { lastSubjectSequence: s.streamSeq },
          });
          s.streamSeq = ack.seq;
          s.published = row.seq;
          n++;
          this.counts.published++;
        } catch (err) {
          if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamWrongLastSequence) {
            await this.verify(userId, s); // someone (an earlier relay) got further: go on from there
            break;
          }
          s.verified = false; // unknown whether it was stored: ask the stream next time
          throw err;
        }
      }
    }
  }

  /** The stream's last message on the wallet's subject says how far it got. */
  private async verify(userId: number, s: State): Promise<void> {
    const last = await lastPublished(this.jsm!, userId);
    if (last.published !== s.published) this.counts.resynced++;
    s.published = last.published;
    s.streamSeq = last.streamSeq;
    s.verified = true;
  }
}
