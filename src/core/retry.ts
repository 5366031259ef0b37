/**
 * SQLSTATEs worth trying again: the transaction lost a race, not an argument.
 * 40001 serialization_failure: a concurrent transaction changed what we read.
 * 40P01 deadlock_detected: PostgreSQL aborted us to break a lock cycle (our lock
 *       order makes this rare: it still happens with outside writers).
 * 55P03 lock_not_available: a lock timeout fired.
 * 57014 query_canceled: statement_timeout, when one is set.
 */
export const RETRYABLE_SQLSTATES = new Set(["40001", "40P01", "55P03", "57014"]);

export function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

export function isRetryable(err: unknown): boolean {
  const code = sqlState(err);
  return code !== undefined && RETRYABLE_SQLSTATES.has(code);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Full-jitter exponential backoff: a random wait in [0, min(cap, base * 2^attempt)). */
export function backoffMs(attempt: number, baseMs = 5, capMs = 1000): number {
  return Math.random() * Math.min(capMs, baseMs * 2 ** attempt);
}

export async function withRetry<T>(fn: () => Promise<T>, attempts = 8): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt + 1 >= attempts || !isRetryable(err)) throw err;
      await sleep(backoffMs(attempt));
    }
  }
}
