import type { CoreContext } from "./context.js";
import { CHECKS, ledgerSummary } from "./store/verify.js";

export type Violation = { check: string; detail: string };
export type VerifyReport = {
  ok: boolean;
  wallets: number;
  entries: number;
  /** the sum of every wallet's balance, all currencies together (see totals) */
  total_balance: string;
  /** the sum of the wallets' balances per currency (exact, as text) */
  totals: Record<string, string>;
  violations: Violation[];
};

/** Runs every ledger invariant in one snapshot, so that concurrent writes cannot show a false violation. */
export async function verifyLedger(ctx: Pick<CoreContext, "db">): Promise<VerifyReport> {
  const { violations, summary } = await ctx.db.transaction(
    async (tx) => {
      const found: Violation[] = [];
      for (const c of CHECKS) {
        const rows = await tx.query(c.sql, [], { timeoutMs: 600_000 });
        for (const row of rows) found.push({ check: c.check, detail: c.describe(row) });
      }
      return { violations: found, summary: await ledgerSummary(tx) };
    },
    { isolation: "repeatable read", readOnly: true },
  );
  return {
    ok: violations.length === 0,
    wallets: summary.wallets,
    entries: summary.entries,
    total_balance: summary.total,
    totals: summary.totals,
    violations,
  };
}
