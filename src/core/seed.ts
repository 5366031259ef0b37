import type { CoreContext } from "./context.js";
import { WalletError } from "./errors.js";
import { countWallets, databaseNowMs, seedGroup, type SeedGroup } from "./store/seedHistory.js";
import { seedRange } from "./store/wallets.js";

export type SeedResult = { created: number; existing: number; first: number; last: number };

/**
 * Opens wallets first..first+users-1 with the given balance, each credited through a
 * journal row (a deposit), in batches of one statement each. Wallets that already
 * exist are left as they are, so running it twice changes nothing.
 */
export async function seedWallets(
  ctx: Pick<CoreContext, "db">,
  input: { users: number; balance: number; first: number; currency: string; batchSize?: number },
  onProgress?: (done: number, total: number) => void,
): Promise<SeedResult> {
  const batchSize = input.batchSize ?? 5000;
  let created = 0;
  const last = input.first + input.users - 1;
  for (let from = input.first; from <= last; from += batchSize) {
    const to = Math.min(last, from + batchSize - 1);
    created += await seedRange(ctx.db, from, to, input.balance, input.currency);
    onProgress?.(to - input.first + 1, input.users);
  }
  return { created, existing: input.users - created, first: input.first, last };
}

export type HistorySeedInput = {
  users: number;
  /** journal entries in all, opening deposits included (at least one per wallet) */
  entries: number;
  /** entries of the first wallet (for deep paging); 0: spread evenly like the others */
  deep: number;
  balance: number;
  first: number;
  /** rows written per statement (about); whole wallets and pairs */
  chunkEntries?: number;
};
export type HistorySeedResult = SeedResult & { entries: number; deep_user: number | null };

/**
 * Opens wallets first..first+users-1 with `entries` journal entries among them (the
 * first one holding `deep` of them when deep > 0), set-based: a few statements of
 * generate_series (see store/seedHistory.ts for the history each wallet gets). Each
 * statement writes whole wallets and commits alone; one whose wallets all exist is
 * skipped, so a run cut short can be run again. Wallets that exist partly in a chunk
 * are refused: a history is written whole or not at all.
 */
export async function seedHistories(
  ctx: Pick<CoreContext, "db" | "currencies">,
  input: HistorySeedInput,
  onProgress?: (wallets: number, total: number) => void,
): Promise<HistorySeedResult> {
  const { users, entries, deep, balance, first } = input;
  const last = first + users - 1;
  if (balance < 1) throw new WalletError("invalid_request", "a seeded history opens with a deposit: balance >= 1");
  if (deep > 0 && users < 2) throw new WalletError("invalid_request", "a deep wallet needs at least 2 users");
  const count = deep > 0 ? users - 1 : users;
  const spread = entries - deep;
  if (deep < 0 || spread < count) {
    throw new WalletError("invalid_request", `${entries} entries cannot give each of ${users} wallets one`);
  }
  const base = Math.floor(spread / count);
  const extra = spread % count;
  const stride = count;
  const deepOffset = (base + 2) * count;
  const gMax = deep > 0 ? deepOffset + deep : deepOffset - 1;
  const endMs = (await databaseNowMs(ctx.db)) - 1000;
  const currency = ctx.currencies.defaultCurrency;
  const ordinary = {
    first: deep > 0 ? first + 1 : first,
    count,
    base,
    extra,
    stride,
    offset: 0,
    endMs,
    gMax,
    currency,
  };
  const groups: SeedGroup[] = [];
  if (deep > 0) {
    groups.push({
      first,
      from: 0,
      to: 1,
      count: 1,
      base: deep,
      extra: 0,
      stride: 1,
      offset: deepOffset,
      endMs,
      gMax,
      opening: balance,
      currency,
    });
  }
  const per = Math.max(2, 2 * Math.floor((input.chunkEntries ?? 500_000) / (base + 1) / 2));
  for (let from = 0; from < count; from += per) {
    groups.push({ ...ordinary, from, to: Math.min(count, from + per), opening: balance });
  }
  let created = 0;
  let written = 0;
  let done = 0;
  for (const g of groups) {
    const size = g.to - g.from;
    const existing = await countWallets(ctx.db, g.first + g.from, g.first + g.to - 1);
    if (existing === 0) {
      const r = await seedGroup(ctx.db, g);
      created += r.wallets;
      written += r.entries;
    } else if (existing !== size) {
      throw new WalletError(
        "invalid_request",
        `users ${g.first + g.from}..${g.first + g.to - 1}: ${existing} of these ${size} wallets exist already; a seeded history needs new wallets`,
      );
    }
    done += size;
    onProgress?.(done, users);
  }
  return { created, existing: users - created, first, last, entries: written, deep_user: deep > 0 ? first : null };
}
