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
import { getBalance } from "../getBalance.js";
import { getHistory, type HistoryPage, type HistoryQuery } from "../getHistory.js";
import type { CacheRead, CacheStats, VersionedCache } from "./types.js";

const MISS: CacheRead = { hit: false, epoch: null };

export class CachedReads implements ChangeSubscriber {
  readonly stats: CacheStats = { hits: 0, misses: 0 };

  constructor(
    private readonly ctx: CoreContext,
    readonly cache: VersionedCache,
    private readonly feed: ChangeFeed | undefined,
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  onChanges(changes: WalletChange[]): Promise<void> {
    return this.cache.bump(changes);
  }

  onReset(): Promise<void> {
    return this.cache.reset();
  }

  private async lookup(userId: number, field: string): Promise<CacheRead> {
    if (this.cache.kind === "none" || !this.feed?.up) return MISS;
    const cached = await this.cache.get(userId, field);
    if (cached.hit) this.stats.hits++;
    else this.stats.misses++;
    this.onLookup?.(cached.hit);
    return cached;
  }

  async balance(userId: number): Promise<number> {
    const cached = await this.lookup(userId, "b");
    if (cached.hit) return Number(cached.value);
    const { balance, version } = await getBalance(this.ctx, userId);
    await this.cache.fill(userId, "b", version, String(balance), cached);
    return balance;
  }

  /** The page as JSON text: a hit needs no parse and no serialisation. */
  async historyJson(q: HistoryQuery): Promise<string> {
    const field = `h:${q.type}:${q.page}:${q.pageSize}`;
    const cached = await this.lookup(q.userId, field);
    if (cached.hit) return cached.value;
    const { version, ...page }: HistoryPage & { version: number } = await getHistory(this.ctx, q);
    const json = JSON.stringify(page);
    await this.cache.fill(q.userId, field, version, json, cached);
    return json;
  }
}
