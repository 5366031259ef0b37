import type { WalletVersion } from "../outcome.js";
import type { CacheRead, VersionedCache } from "./types.js";

/**
 * The in-process cache: right for one process that sees every write (the embedded
 * database serves one process). Bounded: past maxEntries values the oldest go.
 */
export class MemoryCache implements VersionedCache {
  readonly kind = "memory" as const;
  private versions = new Map<number, number>();
  private values = new Map<string, string>();

  constructor(private readonly maxEntries = 100_000) {}

  async get(userId: number, field: string): Promise<CacheRead> {
    const version = this.versions.get(userId);
    if (version !== undefined) {
      const value = this.values.get(`${userId}:${version}:${field}`);
      if (value !== undefined) return { hit: true, value };
    }
    return { hit: false, epoch: null };
  }

  async fill(userId: number, field: string, version: number, value: string): Promise<void> {
    const current = this.versions.get(userId) ?? -1;
    if (version < current) return; // read before a newer write: no one will ask for it
    if (version > current) this.setVersion(userId, version);
    if (this.values.size >= this.maxEntries) {
      const oldest = this.values.keys().next().value;
      if (oldest !== undefined) this.values.delete(oldest);
    }
    this.values.set(`${userId}:${version}:${field}`, value);
  }

  async bump(versions: WalletVersion[]): Promise<void> {
    for (const { userId, version } of versions) {
      if (version > (this.versions.get(userId) ?? -1)) this.setVersion(userId, version);
    }
  }

  private setVersion(userId: number, version: number): void {
    if (this.versions.size >= this.maxEntries && !this.versions.has(userId)) {
      // forgetting a version is safe only together with its values: start over
      this.versions.clear();
      this.values.clear();
    }
    this.versions.set(userId, version);
  }

  state(): "ok" {
    return "ok";
  }

  async close(): Promise<void> {
    this.versions.clear();
    this.values.clear();
  }
}
