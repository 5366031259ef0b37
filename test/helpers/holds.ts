/** The hold calls of the holds tests, on one test server. */
import { expect, vi } from "vitest";
import { get, post } from "./server.js";

export function holdsApi(base: string, firstUser = 1000) {
  let nextUser = firstUser;
  return {
    /** A fresh wallet with this balance. */
    async wallet(balance: number): Promise<number> {
      const u = nextUser++;
      if (balance > 0) expect((await post(base, "/api/deposit/v1", u, { amount: balance })).status).toBe(200);
      else await get(base, "/api/wallet/balance/v1", u);
      return u;
    },
    /** The balances (without version: the conditional-write tests look at it, in batches.test.ts). */
    balances: async (u: number) => {
      const { version, ...b } = (await get(base, "/api/wallet/balance/v1", u)).body as Record<string, unknown>;
      expect(version).toEqual(expect.any(Number));
      return b;
    },
    hold: (u: number, body: Record<string, unknown>, headers?: Record<string, string>) =>
      post(base, "/api/holds/v1", u, body, headers),
    capture: (u: number, id: string, body: Record<string, unknown> = {}, headers?: Record<string, string>) =>
      post(base, `/api/holds/v1/${id}/capture`, u, body, headers),
    voidIt: (u: number, id: string, headers?: Record<string, string>) =>
      post(base, `/api/holds/v1/${id}/void`, u, {}, headers),
    /** The hold as its payer reads it. */
    read: async (u: number, id: string) => (await get(base, `/api/holds/v1/${id}`, u)).body,
  };
}

/** Resolves once the clock has reached this instant (an expiry is a moment, not a delay). */
export async function untilInstant(at: number): Promise<void> {
  await vi.waitFor(() => expect(Date.now()).toBeGreaterThanOrEqual(at), { timeout: 10_000, interval: 5 });
}
