import type { CoreContext } from "./context.js";
import { seedRange } from "./store/wallets.js";

export type SeedResult = { created: number; existing: number; first: number; last: number };

/**
 * Opens wallets first..first+users-1 with the given balance, each credited through a
 * journal row (a deposit), in batches of one statement each. Wallets that already
 * exist are left as they are, so running it twice changes nothing.
 */
export async function seedWallets(
  ctx: Pick<CoreContext, "db">,
  input: { users: number; balance: number; first: number; batchSize?: number },
  onProgress?: (done: number, total: number) => void,
): Promise<SeedResult> {
  const batchSize = input.batchSize ?? 5000;
  let created = 0;
  const last = input.first + input.users - 1;
  for (let from = input.first; from <= last; from += batchSize) {
    const to = Math.min(last, from + batchSize - 1);
    created += await seedRange(ctx.db, from, to, input.balance);
    onProgress?.(to - input.first + 1, input.users);
  }
  return { created, existing: input.users - created, first: input.first, last };
}
