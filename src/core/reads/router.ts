/**
 * Where a read goes: the read replica (DATABASE_READ_URL) when it is safe, else the
 * primary. Safe means read-your-writes on every instance: the replica answers a
 * wallet's read only if its copy of the wallet is at least at the latest version
 * known for that wallet (the versioned cache knows it: Redis in Redis mode, the
 * in-process cache fed by the change feed otherwise). When no version is known (no
 * cache, feed down, a new epoch, an expired key) the primary answers. A replica that
 * fails, or lags more than maxLagMs (a monitor looks every second), is bypassed until
 * it is healthy again.
 *
 * Each read says how to ask the replica (returning undefined when its answer is not
 * fresh enough) and how to ask the primary; the router picks, counts and falls back.
 */
import { classifyFailure } from "../db/errors.js";
import type { Database, Executor } from "../db/index.js";
import { replicaState, walletVersion } from "../store/replica.js";

export type ReadSource = "primary" | "replica";
/** why a read that could have gone to the replica did not */
export type Fallback = "unhealthy" | "unknown_version" | "stale" | "error";

export type ReplicaHealth = { healthy: boolean; lagMs: number | null; reason?: string };

export type ReadRouterHooks = {
  onRead?(source: ReadSource): void;
  onFallback?(reason: Fallback): void;
  /** the replica became healthy or unhealthy */
  onHealth?(h: ReplicaHealth): void;
};

export type ReadRouterOptions = { maxLagMs: number; monitorMs?: number };

/** A replica's answer for one wallet: undefined when it is older than the known version. */
export type ReplicaRead<T> = (db: Database, known: number) => Promise<T | undefined>;

export class ReadRouter {
  hooks: ReadRouterHooks = {};
  private health: ReplicaHealth = { healthy: false, lagMs: null, reason: "not checked yet" };
  private knownVersion: (userId: number) => Promise<number | null> = async () => null;
  private timer?: NodeJS.Timeout;
  private checking?: Promise<void>;
  private stopped = false;

  constructor(
    readonly primary: Database,
    readonly replica: Database | undefined,
    private readonly opts: ReadRouterOptions,
  ) {}

  /** Where the latest known version of a wallet comes from (the versioned cache). */
  useVersions(fn: (userId: number) => Promise<number | null>): void {
    this.knownVersion = fn;
  }

  get replicaHealth(): ReplicaHealth {
    return this.health;
  }

  /** Checks the replica now, then every monitorMs. */
  async start(): Promise<void> {
    if (!this.replica) return;
    await this.check();
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        this.checking = this.check().finally(loop);
      }, this.opts.monitorMs ?? 1000);
      this.timer.unref();
    };
    loop();
  }

  async close(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.checking;
    await this.replica?.close();
  }

  /**
   * A wallet's read. `known` is the wallet's known version when the caller already
   * has it (a cache miss carries it); otherwise the router asks for it.
   */
  async read<T>(userId: number, fromReplica: ReplicaRead<T>, fromPrimary: () => Promise<T>, known?: number | null) {
    if (this.replica && this.health.healthy) {
      const k = known !== undefined ? known : await this.knownVersion(userId).catch(() => null);
      if (k === null) this.hooks.onFallback?.("unknown_version");
      else {
        const answer = await this.tryReplica(() => fromReplica(this.replica!, k));
        if (answer !== undefined) return answer;
      }
    } else if (this.replica) this.hooks.onFallback?.("unhealthy");
    this.hooks.onRead?.("primary");
    return fromPrimary();
  }

  /**
   * A read whose replica answer is right whenever it is given (say, a transfer that
   * has reached a final status, which never changes again): no version involved.
   */
  async readFinal<T>(fromReplica: (db: Database) => Promise<T | undefined>, fromPrimary: () => Promise<T>) {
    if (this.replica && this.health.healthy) {
      const answer = await this.tryReplica(() => fromReplica(this.replica!));
      if (answer !== undefined) return answer;
    } else if (this.replica) this.hooks.onFallback?.("unhealthy");
    this.hooks.onRead?.("primary");
    return fromPrimary();
  }

  private async tryReplica<T>(ask: () => Promise<T | undefined>): Promise<T | undefined> {
    try {
      const answer = await ask();
      if (answer === undefined) this.hooks.onFallback?.("stale");
      else this.hooks.onRead?.("replica");
      return answer;
    } catch (err) {
      // a lost connection: bypass it until the monitor finds it healthy; anything else
      // (a query cancelled by a conflict with recovery, say) costs only this read
      if (classifyFailure(err) === "unknown") this.setHealth({ healthy: false, lagMs: null, reason: message(err) });
      this.hooks.onFallback?.("error");
      return undefined;
    }
  }

  private async check(): Promise<void> {
    try {
      const s = await replicaState(this.replica!, 1000);
      const healthy = s.lagMs <= this.opts.maxLagMs;
      const lagMs = Number.isFinite(s.lagMs) ? s.lagMs : null;
      this.setHealth({ healthy, lagMs, reason: healthy ? undefined : `lagging ${lagMs ?? "?"} ms` });
    } catch (err) {
      this.setHealth({ healthy: false, lagMs: null, reason: message(err) });
    }
  }

  private setHealth(h: ReplicaHealth): void {
    const changed = h.healthy !== this.health.healthy;
    this.health = h;
    if (changed && !this.stopped) this.hooks.onHealth?.(h);
  }
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

/**
 * The replica's answer read in one snapshot with the wallet's version there, only
 * if that version is at least `known`: for reads whose statements do not return it.
 */
export function inSnapshot<T>(
  db: Database,
  userId: number,
  known: number,
  fn: (tx: Executor) => Promise<T>,
): Promise<T | undefined> {
  return db.transaction(
    async (tx) => {
      const version = await walletVersion(tx, userId);
      return version !== null && version >= known ? fn(tx) : undefined;
    },
    { isolation: "repeatable read", readOnly: true },
  );
}
