/**
 * Admission: what every call of a user goes through before its handler, whichever
 * protocol brought it. Authentication, the per-user rate limit (and the RateLimit-*
 * values it answers with), the wallet opened once per user per process, and the count
 * of a use case's outcome. The HTTP pipeline (app.ts) and the gRPC pipeline
 * (grpc/pipeline.ts) call it with what they read from headers or metadata and write
 * back what it gives them, each in its own form: a rule added here holds on both.
 */
import type { RateLimiter } from "../core/cache/rateLimiter.js";
import { WalletError } from "../core/errors.js";
import type { Outcome } from "../core/outcome.js";
import { openWallet } from "../core/store/wallets.js";
import type { Authenticator } from "./auth.js";
import type { Metrics } from "./metrics.js";
import type { Services } from "./services.js";

/** Where admission writes the values the caller is answered with (HTTP headers, gRPC metadata). */
export type HeaderSink = (name: string, value: string) => void;

/** What a call asks of admission: its credentials, and what its route or method is. */
export type AdmissionRequest = {
  /** the Authorization header or `authorization` metadata, as given once (undefined: absent or repeated) */
  authorization: string | undefined;
  /** takes a token from the user's bucket */
  rateLimited: boolean;
  /** its own SQL opens the caller's wallet: admission does not */
  opensWallet?: boolean;
};

/** The wallets already opened by this process are remembered up to this many users, then forgotten at once. */
export const OPENED_WALLETS_MAX = 1_000_000;

export type Admission = ReturnType<typeof createAdmission>;

export function createAdmission(deps: { services: Services; authenticate: Authenticator; limiter?: RateLimiter }) {
  const { services: svc, authenticate, limiter } = deps;

  // "a wallet is opened the first time its owner is authenticated": once per user per
  // process (bounded), an insert that does nothing when the wallet exists
  const opened = new Set<number>();
  async function ensureWallet(userId: number): Promise<void> {
    if (opened.has(userId)) return;
    await openWallet(svc.ctx.db, userId, svc.ctx.currencies.defaultCurrency);
    if (opened.size >= OPENED_WALLETS_MAX) opened.clear();
    opened.add(userId);
  }

  async function takeToken(userId: number, header: HeaderSink): Promise<void> {
    if (!limiter) return;
    const d = await limiter.take(userId);
    header("RateLimit-Limit", String(d.limit));
    header("RateLimit-Remaining", String(d.remaining));
    header("RateLimit-Reset", String(d.resetSeconds));
    if (!d.allowed) {
      svc.metrics.rateLimited.inc();
      header("Retry-After", String(d.retryAfterSeconds));
      throw new WalletError("rate_limited");
    }
  }

  return {
    /** Authenticates, takes a rate-limit token, opens the wallet; the caller's user id, or a WalletError. */
    async admit(r: AdmissionRequest, header: HeaderSink): Promise<number> {
      const userId = await authenticate(r.authorization);
      if (r.rateLimited) await takeToken(userId, header);
      if (!r.opensWallet) await ensureWallet(userId);
      return userId;
    },
  };
}

/**
 * A use case's outcome, counted (the operations metric, and the replays of stored
 * answers). Returns whether it was replayed: each edge marks that its own way
 * (the Idempotent-Replayed header, the idempotent-replayed metadata).
 */
export function countOutcome(metrics: Metrics, kind: string, outcome: Outcome<unknown>): boolean {
  metrics.operations.inc({ kind, outcome: outcome.ok ? "ok" : outcome.code });
  if (outcome.replayed) metrics.idempotentReplays.inc();
  return outcome.replayed;
}
