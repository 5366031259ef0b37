import type { WalletChange } from "../changes/feed.js";

/**
 * A read cache keyed by wallet version. A reader asks for (user, field) and gets the
 * value stored under the wallet's current version, or a miss. The versions come
 * from the database (ChangeFeed), which says what changed, whoever changed it; they
 * only move forward. A reader that filled from the database just before a write
 * stores its value under the old version, which no one asks for again: the
 * fill-after-evict race cannot serve stale data. reset() starts a new epoch: every
 * value and version learnt before is dropped.
 */
export interface VersionedCache {
  readonly kind: "memory" | "redis" | "none";
  get(userId: number, field: string): Promise<CacheRead>;
  /** The wallet's latest known version; null when not known (never written this epoch, forgotten, unreachable). */
  knownVersion(userId: number): Promise<number | null>;
  fill(userId: number, field: string, version: number, value: string, token: CacheRead): Promise<void>;
  bump(changes: WalletChange[]): Promise<void>;
  reset(): Promise<void>;
  /** "ok", or "degraded" while the shared cache cannot be reached (reads go to the database) */
  state(): "ok" | "degraded" | "off";
  close(): Promise<void>;
}

/**
 * The answer of get: a hit carries the value; a miss carries what a fill needs, and
 * the wallet's latest known version (null: not known), which says whether a read
 * replica's copy is new enough.
 */
export type CacheRead = { hit: true; value: string } | { hit: false; epoch: string | null; version: number | null };

export const noCache: VersionedCache = {
  kind: "none",
  get: async () => ({ hit: false, epoch: null, version: null }),
  knownVersion: async () => null,
  fill: async () => undefined,
  bump: async () => undefined,
  reset: async () => undefined,
  state: () => "off",
  close: async () => undefined,
};

export type CacheStats = { hits: number; misses: number };
