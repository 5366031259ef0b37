/**
 * The read side of the core, with the cache around it: balance and history are
 * served from the cache at the wallet's current version, or read from the database
 * and stored under the version they were read at. The versions come from the
 * database's change feed (a ChangeSubscriber): writers do not tell the cache. While
 * the feed is not up (its connection lost, changes possibly missed), the cache is
 * neither read nor filled; when it is back, the cache starts a new epoch.
 */
import type { ChangeFeed, ChangeSubscriber, WalletChange } from "../changes/feed.js";
import type { CoreContext } from "../context.js";
import type { HistoryPage, HistoryQuery } from "../history.js";
import { routedBalance, routedHistory } from "../reads/reads.js";
import type { CacheRead, CacheStats, VersionedCache } from "./types.js";

const MISS: CacheRead = { hit: false, epoch: null, version: null };
const EXPIRY_MARGIN_MS = 1000;

export type Balances = { balance: number; available_balance: number };

export class CachedReads implements ChangeSubscriber {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  /**
   * TEST SEAM, for tests only: awaited after a miss was read from the database and
   * before its value is filled in, so that a test can hold a fill across an outage.
   */
  testSeamBeforeFill?: () => Promise<void>;

  constructor(
    private readonly ctx: CoreContext,
    readonly cache: VersionedCache,
    private readonly feed: ChangeFeed | undefined,
    private readonly onLookup?: (hit: boolean) => void,
    /** false: values are never served nor stored; the versions still route reads (READ_CACHE=false) */
    private readonly values = true,
  ) {}

  onChanges(changes: WalletChange[]): Promise<void> {
    return this.cache.bump(changes);
  }

  onReset(): Promise<void> {
    return this.cache.reset();
  }

  /**
   * The wallet's latest known version, or null when the cache cannot vouch for one
   * (no cache, the feed down): a read replica may answer only at or above it.
   */
  async knownVersion(userId: number): Promise<number | null> {
    if (this.cache.kind === "none" || !this.feed?.up) return null;
    return this.cache.knownVersion(userId);
  }

  /** A miss says which version a replica must have reached; a hit too old to serve does not. */
  private static known(cached: CacheRead): number | null | undefined {
    return cached.hit ? undefined : cached.version;
  }

  private async lookup(userId: number, field: string): Promise<CacheRead> {
    if (this.cache.kind === "none" || !this.feed?.up) return MISS;
    // a miss without an epoch fills nothing
    if (!this.values) return { hit: false, epoch: null, version: await this.cache.knownVersion(userId) };
    const cached = await this.cache.get(userId, field);
    if (cached.hit) this.stats.hits++;
    else this.stats.misses++;
    this.onLookup?.(cached.hit);
    return cached;
  }

  /**
   * Cached as "balance,available,valid until (ms)": a hold's expiry changes the
   * available balance without a new version (until the marker records it), so a value
   * is not served within a second of the wallet's next expiry (allowing for clock skew
   * between this process and the database).
   */
  async balance(userId: number): Promise<Balances> {
    const cached = await this.lookup(userId, "b");
    if (cached.hit) {
      const [balance, available, until] = cached.value.split(",").map(Number) as [number, number, number];
      if (until === 0 || Date.now() < until - EXPIRY_MARGIN_MS) return { balance, available_balance: available };
    }
    const b = await routedBalance(this.ctx, userId, CachedReads.known(cached));
    if (b.holdExpiryMs === null || Date.now() < b.holdExpiryMs - EXPIRY_MARGIN_MS) {
      const value = `${b.balance},${b.available},${b.holdExpiryMs ?? 0}`;
      await this.testSeamBeforeFill?.();
      await this.cache.fill(userId, "b", b.version, value, cached.hit ? MISS : cached);
    }
    return { balance: b.balance, available_balance: b.available };
  }

  /** The page as JSON text: a hit needs no parse and no serialisation. */
  async historyJson(q: HistoryQuery): Promise<string> {
    const field = `h:${q.type}:${q.page}:${q.pageSize}:${q.cursor ?? ""}`;
    const cached = await this.lookup(q.userId, field);
    if (cached.hit) return cached.value;
    const { version, ...page }: HistoryPage & { version: number } = await routedHistory(
      this.ctx,
      q,
      CachedReads.known(cached),
    );
    const json = JSON.stringify(page);
    await this.testSeamBeforeFill?.();
    await this.cache.fill(q.userId, field, version, json, cached);
    return json;
  }
}
