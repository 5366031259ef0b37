import { randomBytes } from "node:crypto";
import type { Redis } from "ioredis";
import type { WalletChange } from "../changes/feed.js";
import { defineCacheScripts, type ScriptedRedis } from "./redisScripts.js";
import type { CacheRead, VersionedCache } from "./types.js";

/**
 * The shared cache in Redis (keys and scripts: redisScripts.ts). The epoch exists for
 * Redis outages: an instance that could not tell Redis of a write stops using the
 * cache, and when Redis answers again it moves the epoch on before anything else,
 * which drops every value cached before, by every instance.
 *
 * An epoch is a random id, never a counter: a counter starts again from 1 when Redis
 * restarts empty, and a fill whose read began before the outage could then carry an
 * epoch equal to the new one. A fill is also dropped when anything went wrong on this
 * instance since its read began (the token carries this instance's generation).
 */
const MISS: CacheRead = { hit: false, epoch: null, version: null };

/** 72 random bits: never repeats in practice, and short, since every key carries it. */
export const newEpoch = (): string => randomBytes(9).toString("base64url");

export class RedisCache implements VersionedCache {
  readonly kind = "redis" as const;
  private readonly redis: ScriptedRedis;
  /**
   * Something may have been missed (a bump skipped or failed, a lost connection, a
   * reset): do not use the cache until the epoch has moved on after the latest such event.
   */
  private dirty = false;
  private dirtyGeneration = 0;
  /** a command failed: do not wait on Redis (reads, writes, the feed) until it answers again */
  private failing = false;
  private recovering?: Promise<void>;
  private readonly epochKey: string;
  /** Commands sent to Redis, and version bumps not sent since Redis was known unusable. */
  readonly counts = { commands: 0, bumpsSkipped: 0 };

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly valueTtlMs = 60_000,
    private readonly versionTtlMs = 86_400_000,
  ) {
    this.epochKey = `${prefix}epoch`;
    this.redis = defineCacheScripts(redis);
    // A lost connection may have hidden other instances' writes from us, and ours from
    // them: whatever the cache holds is suspect until the epoch has moved on.
    redis.on("close", () => this.markDirty());
    // ...which it does as soon as Redis answers again
    redis.on("ready", () => {
      if (this.dirty) void this.recover();
    });
  }

  private markDirty(): void {
    this.dirty = true;
    this.dirtyGeneration++;
  }

  /** A command failed: Redis is unusable until a new epoch is set. */
  private failed(): void {
    this.failing = true;
    this.markDirty();
  }

  /** Known unusable: not connected, or a command failed since the last epoch was set. */
  private reachable(): boolean {
    return this.redis.status === "ready" && !this.failing;
  }

  private usable(): boolean {
    if (this.redis.status !== "ready") return false;
    if (this.dirty) void this.recover();
    return !this.dirty;
  }

  /** Moves the epoch on; clean only if nothing new went wrong while it did. */
  private recover(): Promise<void> {
    this.recovering ??= (async () => {
      const generation = this.dirtyGeneration;
      try {
        this.counts.commands++;
        await this.redis.set(this.epochKey, newEpoch());
        this.failing = false;
        if (generation === this.dirtyGeneration) this.dirty = false;
      } catch {
        this.failing = true; // still unreachable: stay dirty
      } finally {
        this.recovering = undefined;
      }
      // something went wrong meanwhile (a bump skipped): move on again while Redis answers
      if (this.dirty && this.reachable()) void this.recover();
    })();
    return this.recovering;
  }

  /**
   * No epoch at all: Redis restarted empty (or lost the key) without this instance
   * seeing its connection drop. A fresh epoch is safe whoever sets it (nothing is
   * served or filled without one, and every fill token names an older one): the
   * first instance to notice sets it, the others take it (SET NX).
   */
  private startEpoch(): void {
    this.counts.commands++;
    this.redis.set(this.epochKey, newEpoch(), "NX").catch(() => this.failed());
  }

  async get(userId: number, field: string): Promise<CacheRead> {
    if (!this.usable()) return MISS;
    const generation = this.dirtyGeneration;
    try {
      this.counts.commands++;
      const [epoch, version, value] = await this.redis.walletCacheGet(
        this.epochKey,
        this.prefix,
        String(userId),
        field,
      );
      if (epoch === undefined) {
        this.startEpoch();
        return MISS;
      }
      if (value !== undefined) return { hit: true, value };
      // the token: this instance's generation and the epoch, both checked by fill
      const token = `${generation}:${epoch}`;
      return { hit: false, epoch: token, version: version === undefined ? null : Number(version) };
    } catch {
      this.failed();
      return MISS;
    }
  }

  async knownVersion(userId: number): Promise<number | null> {
    if (!this.usable()) return null;
    try {
      this.counts.commands++;
      const v = await this.redis.walletCacheVersion(this.epochKey, this.prefix, String(userId));
      return v === null ? null : Number(v);
    } catch {
      this.failed();
      return null;
    }
  }

  async fill(userId: number, field: string, version: number, value: string, token: CacheRead): Promise<void> {
    if (token.hit || token.epoch === null || !this.usable()) return;
    const colon = token.epoch.indexOf(":");
    // the connection dropped, a bump was missed or the cache was reset since the read began
    if (token.epoch.slice(0, colon) !== String(this.dirtyGeneration)) return;
    this.counts.commands++;
    await this.redis
      .walletCacheFill(
        this.epochKey,
        this.prefix,
        String(userId),
        field,
        String(version),
        value,
        token.epoch.slice(colon + 1),
        String(this.valueTtlMs),
        String(this.versionTtlMs),
      )
      .catch(() => this.failed());
  }

  /**
   * Moves the shared versions forward, as the database announced them (every process
   * that hears a change does it; the script only ever moves a version up), in one call
   * for the whole batch. It goes into whatever epoch is current, so a bump is never
   * lost to a recovery running at the same time. While Redis is known unusable it
   * does not wait on it at all: this instance stops using the cache, and moves the
   * epoch on when Redis answers again.
   */
  async bump(changes: WalletChange[]): Promise<void> {
    if (changes.length === 0) return;
    if (!this.reachable()) {
      this.counts.bumpsSkipped++;
      this.markDirty();
      return;
    }
    const latest = new Map<number, number>();
    for (const { userId, version } of changes) latest.set(userId, Math.max(version, latest.get(userId) ?? -1));
    const args = [this.prefix, String(this.versionTtlMs)];
    for (const [userId, version] of latest) args.push(String(userId), String(version));
    try {
      this.counts.commands++;
      // 0: no epoch, so nothing can be served until one is set, after this commit
      if ((await this.redis.walletCacheBump(this.epochKey, ...args)) === 0) this.startEpoch();
    } catch {
      this.failed();
    }
  }

  /** A new epoch: every value and version cached before, by any instance, is dropped. */
  async reset(): Promise<void> {
    this.markDirty();
    await this.recovering; // one that began before this reset does not count
    if (this.redis.status === "ready") await this.recover();
  }

  state(): "ok" | "degraded" {
    return this.redis.status === "ready" && !this.dirty ? "ok" : "degraded";
  }

  async close(): Promise<void> {
    /* the connection belongs to the caller */
  }
}
