import type { Redis } from "ioredis";
import type { WalletChange } from "../changes/feed.js";
import type { CacheRead, VersionedCache } from "./types.js";

/*
 * Keys (P = prefix, E = epoch):
 *   P epoch          the cache epoch; every other key lives under it
 *   P E:v:USER       the wallet's latest known version (only moves forward)
 *   P E:d:USER:VER:F a cached value of field F at that version
 * The epoch exists for Redis outages: an instance that could not tell Redis of a
 * write stops using the cache, and when Redis answers again it moves the epoch on
 * before anything else, which drops every value cached before.
 */

// KEYS[1] epoch key; ARGV[1] prefix, ARGV[2] user, ARGV[3] field: {epoch, version, value} (as far as known)
const GET_SCRIPT = `
local e = redis.call('GET', KEYS[1]) or '0'
local v = redis.call('GET', ARGV[1] .. e .. ':v:' .. ARGV[2])
if not v then return {e} end
local val = redis.call('GET', ARGV[1] .. e .. ':d:' .. ARGV[2] .. ':' .. v .. ':' .. ARGV[3])
if not val then return {e, v} end
return {e, v, val}`;

// KEYS[1] epoch key; ARGV[1] prefix, ARGV[2] user: the version known in the current epoch
const VERSION_SCRIPT = `
local e = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. e .. ':v:' .. ARGV[2])`;

// KEYS[1] epoch key; ARGV: prefix, user, field, version, value, epoch seen by get, value ttl ms, version ttl ms
const FILL_SCRIPT = `
local e = redis.call('GET', KEYS[1]) or '0'
if e ~= ARGV[6] then return 0 end
local vk = ARGV[1] .. e .. ':v:' .. ARGV[2]
local cur = tonumber(redis.call('GET', vk) or '-1')
local ver = tonumber(ARGV[4])
if ver < cur then return 0 end
if ver > cur then redis.call('SET', vk, ARGV[4], 'PX', ARGV[8]) end
redis.call('SET', ARGV[1] .. e .. ':d:' .. ARGV[2] .. ':' .. ARGV[4] .. ':' .. ARGV[3], ARGV[5], 'PX', ARGV[7])
return 1`;

// KEYS[1] epoch key; ARGV: prefix, version ttl ms, then user, version pairs
const BUMP_SCRIPT = `
local e = redis.call('GET', KEYS[1]) or '0'
for i = 3, #ARGV, 2 do
  local vk = ARGV[1] .. e .. ':v:' .. ARGV[i]
  local cur = tonumber(redis.call('GET', vk) or '-1')
  if tonumber(ARGV[i + 1]) > cur then redis.call('SET', vk, ARGV[i + 1], 'PX', ARGV[2]) end
end
return 1`;

type ScriptedRedis = Redis & {
  walletCacheGet(epochKey: string, prefix: string, user: string, field: string): Promise<string[]>;
  walletCacheVersion(epochKey: string, prefix: string, user: string): Promise<string | null>;
  walletCacheFill(epochKey: string, ...args: string[]): Promise<number>;
  walletCacheBump(epochKey: string, ...args: string[]): Promise<number>;
};

export class RedisCache implements VersionedCache {
  readonly kind = "redis" as const;
  private readonly redis: ScriptedRedis;
  /**
   * Something may have been missed (a bump that failed, a lost connection, a reset):
   * do not use the cache until the epoch has moved on after the latest such event.
   */
  private dirty = false;
  private dirtyGeneration = 0;
  private recovering?: Promise<void>;
  private readonly epochKey: string;

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly valueTtlMs = 60_000,
    private readonly versionTtlMs = 86_400_000,
    private readonly bumpDeadlineMs = 500,
  ) {
    this.epochKey = `${prefix}epoch`;
    redis.defineCommand("walletCacheGet", { numberOfKeys: 1, lua: GET_SCRIPT });
    redis.defineCommand("walletCacheVersion", { numberOfKeys: 1, lua: VERSION_SCRIPT });
    redis.defineCommand("walletCacheFill", { numberOfKeys: 1, lua: FILL_SCRIPT });
    redis.defineCommand("walletCacheBump", { numberOfKeys: 1, lua: BUMP_SCRIPT });
    this.redis = redis as ScriptedRedis;
    // A lost connection may have hidden other instances' writes from us, and ours from
    // them: whatever the cache holds is suspect until the epoch has moved on.
    redis.on("close", () => this.markDirty());
  }

  private markDirty(): void {
    this.dirty = true;
    this.dirtyGeneration++;
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
        await this.redis.incr(this.epochKey);
        if (generation === this.dirtyGeneration) this.dirty = false;
      } catch {
        /* still unreachable: stay dirty */
      } finally {
        this.recovering = undefined;
      }
    })();
    return this.recovering;
  }

  async get(userId: number, field: string): Promise<CacheRead> {
    if (!this.usable()) return { hit: false, epoch: null, version: null };
    try {
      const [epoch, version, value] = await this.redis.walletCacheGet(
        this.epochKey,
        this.prefix,
        String(userId),
        field,
      );
      if (value !== undefined) return { hit: true, value };
      return { hit: false, epoch: epoch ?? null, version: version === undefined ? null : Number(version) };
    } catch {
      return { hit: false, epoch: null, version: null };
    }
  }

  async knownVersion(userId: number): Promise<number | null> {
    if (!this.usable()) return null;
    try {
      const v = await this.redis.walletCacheVersion(this.epochKey, this.prefix, String(userId));
      return v === null ? null : Number(v);
    } catch {
      return null;
    }
  }

  async fill(userId: number, field: string, version: number, value: string, token: CacheRead): Promise<void> {
    if (token.hit || token.epoch === null || !this.usable()) return;
    await this.redis
      .walletCacheFill(
        this.epochKey,
        this.prefix,
        String(userId),
        field,
        String(version),
        value,
        token.epoch,
        String(this.valueTtlMs),
        String(this.versionTtlMs),
      )
      .catch(() => undefined);
  }

  /**
   * Moves the shared versions forward, as the database announced them (every process
   * that hears a change does it; the script only ever moves a version up). A
   * connection that was just cut usually comes back within a few hundred
   * milliseconds: keep trying until bumpDeadlineMs, so that a blip costs latency, not
   * freshness. Past the deadline this instance stops using the cache until it has
   * moved the epoch on.
   */
  async bump(versions: WalletChange[]): Promise<void> {
    if (versions.length === 0) return;
    const args = [this.prefix, String(this.versionTtlMs)];
    for (const v of versions) args.push(String(v.userId), String(v.version));
    const deadline = Date.now() + (this.redis.status === "end" ? 0 : this.bumpDeadlineMs);
    for (;;) {
      try {
        if (this.redis.status !== "ready") throw new Error("redis not ready");
        await this.redis.walletCacheBump(this.epochKey, ...args);
        return;
      } catch {
        if (Date.now() >= deadline) break;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    this.markDirty();
  }

  /** A new epoch: every value and version cached before, by any instance, is dropped. */
  async reset(): Promise<void> {
    this.markDirty();
    await this.recovering; // one that began before this reset does not count
    await this.recover();
  }

  state(): "ok" | "degraded" {
    return this.redis.status === "ready" && !this.dirty ? "ok" : "degraded";
  }

  async close(): Promise<void> {
    /* the connection belongs to the caller */
  }
}
