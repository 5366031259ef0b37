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
import { routedBalances, routedHistory } from "../reads/reads.js";
import { walletIn, type UserBalances, type WalletBalance } from "../store/wallets.js";
import type { CacheRead, CacheStats, VersionedCache } from "./types.js";

const MISS: CacheRead = { hit: false, epoch: null, version: null };
const EXPIRY_MARGIN_MS = 1000;

/** A wallet in the cached value: [currency, balance, available, wallet version, hold expiry ms (0: none), credit line] */
type CachedWallet = [string, number, number, number, number, number?];
/** not within a second of its next hold expiry */
const servable = (r: CachedWallet) => r[4] === 0 || Date.now() < r[4] - EXPIRY_MARGIN_MS;
/** a value cached before credit lines existed has no sixth element: its line was 0 */
const walletOf = ([currency, balance, available, walletVersion, until, creditLimit]: CachedWallet): WalletBalance => ({
  currency,
  balance,
  available,
  creditLimit: creditLimit ?? 0,
  walletVersion,
  holdExpiryMs: until === 0 ? null : until,
});

/**
 * version: the wallet's own (wallets.version), what expected_version compares with;
 * credit_limit: the wallet's credit line (0: none)
 */
export type Balances = {
  currency: string;
  balance: number;
  available_balance: number;
  version: number;
  credit_limit: number;
};

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
   * All of a user's wallets, cached as one value under the user's version: a JSON
   * array of [currency, balance, available, wallet version, earliest hold expiry (ms,
   * 0: none), credit line]. A hold's expiry changes the available balance without a new version
   * (until the marker records it), so a value is not served within a second of any of
   * its wallets' next expiry (allowing for clock skew between this process and the
   * database).
   */
  private async wallets(userId: number): Promise<UserBalances> {
    const cached = await this.lookup(userId, "b");
    if (cached.hit) {
      const rows = JSON.parse(cached.value) as CachedWallet[];
      if (rows.every(servable)) return { version: 0, wallets: rows.map(walletOf) };
    }
    return this.readWallets(userId, cached);
  }

  /** The user's wallets from the database (a replica when it is fresh enough), filled in when servable. */
  private async readWallets(userId: number, cached: CacheRead): Promise<UserBalances> {
    const u = await routedBalances(this.ctx, userId, CachedReads.known(cached));
    if (u.wallets.every((w) => w.holdExpiryMs === null || Date.now() < w.holdExpiryMs - EXPIRY_MARGIN_MS)) {
      const value = JSON.stringify(
        u.wallets.map((w) => [w.currency, w.balance, w.available, w.walletVersion, w.holdExpiryMs ?? 0, w.creditLimit]),
      );
      await this.testSeamBeforeFill?.();
      await this.cache.fill(userId, "b", u.version, value, cached.hit ? MISS : cached);
    }
    return u;
  }

  /**
   * The user's balances in one currency (0 in a currency never used). From the cache,
   * only that currency's row is needed: another wallet's hold expiry does not change it.
   */
  async balance(userId: number, currency: string): Promise<Balances> {
    const cached = await this.lookup(userId, "b");
    if (cached.hit) {
      const rows = JSON.parse(cached.value) as CachedWallet[];
      let row: CachedWallet | undefined;
      for (const r of rows) if (r[0] === currency) row = r;
      if (row === undefined) return { currency, balance: 0, available_balance: 0, version: 0, credit_limit: 0 };
      if (servable(row)) {
        return { currency, balance: row[1], available_balance: row[2], version: row[3], credit_limit: row[5] ?? 0 };
      }
    }
    const w = walletIn(await this.readWallets(userId, cached), currency);
    return {
      currency,
      balance: w.balance,
      available_balance: w.available,
      version: w.walletVersion,
      credit_limit: w.creditLimit,
    };
  }

  /**
   * Every currency the user has a wallet in, sorted by code, the default currency
   * always among them.
   */
  async balances(userId: number): Promise<{ balances: Balances[] }> {
    const u = await this.wallets(userId);
    const wallets: WalletBalance[] = [...u.wallets];
    const fallback = this.ctx.currencies.defaultCurrency;
    if (!wallets.some((w) => w.currency === fallback)) wallets.push(walletIn(u, fallback));
    wallets.sort((a, b) => (a.currency < b.currency ? -1 : a.currency > b.currency ? 1 : 0));
    return {
      balances: wallets.map((w) => ({
        currency: w.currency,
        balance: w.balance,
        available_balance: w.available,
        version: w.walletVersion,
        credit_limit: w.creditLimit,
      })),
    };
  }

  /** The page as JSON text: a hit needs no parse and no serialisation. */
  async historyJson(q: HistoryQuery): Promise<string> {
    // the reference last: it may hold any character
    const field = `h:${q.currency ?? "*"}:${q.type}:${q.page}:${q.pageSize}:${q.cursor ?? ""}:${q.reference ?? ""}`;
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
