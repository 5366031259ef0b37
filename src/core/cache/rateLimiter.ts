/**
 * Per-user token buckets: RATE_LIMIT_BURST tokens, refilled at RATE_LIMIT_RPS a
 * second, one token a request. In Redis the whole take-a-token step is one Lua call
 * (atomic, one round trip, Redis's clock for every instance); in memory without it.
 * rate-limiter-flexible, the usual library, offers fixed windows, which admit twice
 * the limit across a window edge; a token bucket is what the contract names.
 */
import type { Redis } from "ioredis";

export type RateDecision = {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** seconds until the bucket is full again */
  resetSeconds: number;
  /** seconds until the next token (when refused) */
  retryAfterSeconds: number;
};

export interface RateLimiter {
  take(userId: number): Promise<RateDecision>;
}

function decide(tokens: number, allowed: boolean, rps: number, burst: number): RateDecision {
  return {
    allowed,
    limit: burst,
    remaining: Math.max(0, Math.floor(tokens)),
    resetSeconds: Math.ceil((burst - tokens) / rps),
    retryAfterSeconds: allowed ? 0 : Math.max(1, Math.ceil((1 - tokens) / rps)),
  };
}

/**
 * The buckets are kept in a Map used as an LRU: a bucket taken from is moved to the
 * newest end (delete, then set: both O(1)), and past maxUsers the oldest one is
 * forgotten. So memory is bounded and no request scans the map, whatever the number
 * of users named. A forgotten bucket comes back full; the oldest bucket was last
 * touched longest ago, and a bucket refills in RATE_LIMIT_BURST / RATE_LIMIT_RPS
 * seconds (2 s by default), so with 100,000 places only more than 50,000 users a
 * second at the defaults could forget one that was not full yet.
 */
export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<number, { tokens: number; at: number }>();
  /** buckets forgotten to stay within maxUsers */
  evicted = 0;

  constructor(
    private readonly rps: number,
    private readonly burst: number,
    private readonly maxUsers = 100_000,
  ) {}

  async take(userId: number): Promise<RateDecision> {
    const now = performance.now();
    let b = this.buckets.get(userId);
    if (b) this.buckets.delete(userId);
    else b = { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) * this.rps) / 1000);
    b.at = now;
    const allowed = b.tokens >= 1;
    if (allowed) b.tokens -= 1;
    this.buckets.set(userId, b); // the newest end
    if (this.buckets.size > this.maxUsers) {
      const oldest = this.buckets.keys().next();
      if (!oldest.done) this.buckets.delete(oldest.value);
      this.evicted += 1;
    }
    return decide(b.tokens, allowed, this.rps, this.burst);
  }

  /** users whose buckets are kept */
  get size(): number {
    return this.buckets.size;
  }
}

// KEYS[1] bucket; ARGV: rps, burst. Returns {allowed, tokens as a string}.
const TAKE_SCRIPT = `
local rps = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rps / 1000)
local allowed = 0
if tokens >= 1 then tokens = tokens - 1; allowed = 1 end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rps * 1000) + 1000)
return {allowed, tostring(tokens)}`;

export class RedisRateLimiter implements RateLimiter {
  private readonly redis: Redis & {
    walletTakeToken(key: string, rps: string, burst: string): Promise<[number, string]>;
  };

  constructor(
    redis: Redis,
    private readonly prefix: string,
    private readonly rps: number,
    private readonly burst: number,
    /** used while Redis cannot be reached: the service stays up, limited per instance */
    private readonly fallback = new MemoryRateLimiter(rps, burst),
  ) {
    redis.defineCommand("walletTakeToken", { numberOfKeys: 1, lua: TAKE_SCRIPT });
    this.redis = redis as typeof this.redis;
  }

  async take(userId: number): Promise<RateDecision> {
    if (this.redis.status !== "ready") return this.fallback.take(userId);
    try {
      const [allowed, tokens] = await this.redis.walletTakeToken(
        `${this.prefix}rl:${userId}`,
        String(this.rps),
        String(this.burst),
      );
      return decide(Number(tokens), allowed === 1, this.rps, this.burst);
    } catch {
      return this.fallback.take(userId);
    }
  }
}
