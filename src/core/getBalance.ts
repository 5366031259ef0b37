import type { CoreContext } from "./context.js";

export type BalanceView = { balance: number; version: number };

/** The wallet's balance and version; opens the wallet (balance 0) on first use. */
export async function getBalance(ctx: CoreContext, userId: number): Promise<BalanceView> {
  const found = await ctx.db.knex.raw<{ rows: BalanceView[] }>(
    "select balance, version from wallets where user_id = ?",
    [userId],
  );
  if (found.rows[0]) return found.rows[0];
  await openWallet(ctx, userId);
  return { balance: 0, version: 0 };
}

/** Opens a wallet with balance 0 if it does not exist; true when it was created. */
export async function openWallet(ctx: CoreContext, userId: number): Promise<boolean> {
  const { rows } = await ctx.db.knex.raw<{ rows: unknown[] }>(
    "insert into wallets (user_id) values (?) on conflict do nothing returning user_id",
    [userId],
  );
  return rows.length > 0;
}
