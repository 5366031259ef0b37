import type { CoreContext } from "./context.js";
import { readBalance, type BalanceRow } from "./store/wallets.js";

export type BalanceView = BalanceRow;

/** The wallet's balance, available balance and version; opens the wallet (balance 0) on first use. */
export function getBalance(ctx: CoreContext, userId: number): Promise<BalanceView> {
  return readBalance(ctx.db, userId);
}
