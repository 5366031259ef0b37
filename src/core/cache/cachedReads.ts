/**
 * The read side of the core, with the cache around it: balance and history are
 * served from the cache at the wallet's current version, or read from the database
 * and stored under the version they were read at. Writes call afterWrite with the
 * versions they produced before they answer (read-your-writes).
 */
import type { CoreContext } from "../context.js";
import { getBalance } from "../getBalance.js";
import { getHistory, type HistoryPage, type HistoryQuery } from "../getHistory.js";
import type { WalletVersion } from "../outcome.js";
import type { CacheStats, VersionedCache } from "./types.js";

export class CachedReads {
  readonly stats: CacheStats = { hits: 0, misses: 0 };

  constructor(
    private readonly ctx: CoreContext,
    readonly cache: VersionedCache,
    private readonly onLookup?: (hit: boolean) => void,
  ) {}

  private count(hit: boolean): void {
    if (hit) this.stats.hits++;
    else this.stats.misses++;
    this.onLookup?.(hit);
  }

  async balance(userId: number): Promise<number> {
    const cached = await this.cache.get(userId, "b");
    this.count(cached.hit);
    if (cached.hit) return Number(cached.value);
    const { balance, version } = await getBalance(this.ctx, userId);
    await this.cache.fill(userId, "b", version, String(balance), cached);
    return balance;
  }

  /** The page as JSON text: a hit needs no parse and no serialisation. */
  async historyJson(q: HistoryQuery): Promise<string> {
    const field = `h:${q.type}:${q.page}:${q.pageSize}`;
    const cached = await this.cache.get(q.userId, field);
    this.count(cached.hit);
    if (cached.hit) return cached.value;
    const { version, ...page }: HistoryPage & { version: number } = await getHistory(this.ctx, q);
    const json = JSON.stringify(page);
    await this.cache.fill(q.userId, field, version, json, cached);
    return json;
  }

  afterWrite(versions: WalletVersion[]): Promise<void> {
    return this.cache.bump(versions);
  }
}
