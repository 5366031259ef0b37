import type { WalletChange } from "../changes/feed.js";
import type { CacheRead, VersionedCache } from "./types.js";

/**
 * The in-process cache, following the database's change log. Bounded: past
 * maxEntries values, or maxBytes of them (history pages are kilobytes each), the
 * oldest go. An epoch counter makes a fill that began before a reset land nowhere.
 */
export class MemoryCache implements VersionedCache {
  readonly kind = "memory" as const;
  private versions = new Map<number, number>();
  private values = new Map<string, string>();
  private epoch = 0;
  /** the values' size, counted as UTF-16 (two bytes a character) */
  private bytes = 0;

  constructor(
    private readonly maxEntries = 100_000,
    private readonly maxBytes = 32 << 20,
  ) {}

  async get(userId: number, field: string): Promise<CacheRead> {
    const version = this.versions.get(userId);
    if (version !== undefined) {
      const value = this.values.get(`${userId}:${version}:${field}`);
      if (value !== undefined) return { hit: true, value };
    }
    return { hit: false, epoch: String(this.epoch), version: version ?? null };
  }

  async knownVersion(userId: number): Promise<number | null> {
    return this.versions.get(userId) ?? null;
  }

  async fill(userId: number, field: string, version: number, value: string, token: CacheRead): Promise<void> {
    if (token.hit || token.epoch !== String(this.epoch)) return;
    const current = this.versions.get(userId) ?? -1;
    if (version < current) return; // read before a newer write: no one will ask for it
    if (version > current) this.setVersion(userId, version);
    const key = `${userId}:${version}:${field}`;
    this.forget(key);
    while (
      this.values.size > 0 &&
      (this.values.size >= this.maxEntries || this.bytes + value.length * 2 > this.maxBytes)
    ) {
      this.forget(this.values.keys().next().value!);
    }
    this.values.set(key, value);
    this.bytes += value.length * 2;
  }

  async bump(changes: WalletChange[]): Promise<void> {
    for (const { userId, version } of changes) {
      if (version > (this.versions.get(userId) ?? -1)) this.setVersion(userId, version);
    }
  }

  async reset(): Promise<void> {
    this.epoch++;
    this.versions.clear();
    this.values.clear();
    this.bytes = 0;
  }

  private forget(key: string): void {
    const old = this.values.get(key);
    if (old === undefined) return;
    this.values.delete(key);
    this.bytes -= old.length * 2;
  }

  private setVersion(userId: number, version: number): void {
    if (this.versions.size >= this.maxEntries && !this.versions.has(userId)) {
      // forgetting a version is safe only together with its values: start over
      void this.reset();
    }
    this.versions.set(userId, version);
  }

  state(): "ok" {
    return "ok";
  }

  async close(): Promise<void> {
    await this.reset();
  }
}
