/**
 * Operator actions: freeze, unfreeze, reverse, adjust (each through the money path,
 * with an actor and a reason, written to the audit log in the same transaction),
 * and what operators read: a wallet inspected, the audit log, statements.
 */
import type { CoreContext } from "./context.js";
import type { ErrorCode } from "./errors.js";
import { WalletError } from "./errors.js";
import { run, type Tags } from "./operations.js";
import type { Idempotency, Outcome } from "./outcome.js";
import { OpKind } from "./store/ledger.js";
import { routedBalanceAt, routedStatement } from "./reads/reads.js";
import { inspectWallet, selectAudit, type AuditEntry, type InspectView } from "./store/operator.js";
import { toHistoryEntry, type HistoryEntry } from "./history.js";

export type { AuditEntry, InspectView };

/** Who acts and why. */
/** tags: the operator's reference and metadata, stored with the entries it makes */
export type Acting = { actor: string; reason: string; idempotency?: Idempotency; tags?: Tags };

export type ReversalView = {
  reversal_id: string;
  reverses: string;
  amount: number;
  remaining: number;
  kind: "deposit" | "withdraw" | "transfer";
  from_user_id: number | null;
  to_user_id: number | null;
  reason: string;
};

export type AdjustmentView = {
  transaction_id: string;
  user_id: number;
  amount: number;
  balance: number;
  available_balance: number;
  reason: string;
};

export const OPERATOR_REFUSALS = {
  freeze: ["wallet_not_found"],
  reverse: [
    "not_found",
    "not_reversible",
    "reversal_exceeds_original",
    "insufficient_funds",
    "balance_limit_exceeded",
    "version_mismatch",
  ],
  adjust: ["wallet_not_found", "insufficient_funds", "balance_limit_exceeded", "version_mismatch"],
} as const satisfies Record<string, readonly ErrorCode[]>;

export function freeze(ctx: CoreContext, i: { userId: number } & Acting): Promise<Outcome<InspectView>> {
  return run(ctx, { kind: OpKind.Freeze, counterpartyId: i.userId, actor: i.actor, reason: i.reason }, i.idempotency);
}

export function unfreeze(ctx: CoreContext, i: { userId: number } & Acting): Promise<Outcome<InspectView>> {
  return run(ctx, { kind: OpKind.Unfreeze, counterpartyId: i.userId, actor: i.actor, reason: i.reason }, i.idempotency);
}

/** Reverses a completed deposit, withdrawal or transfer (by its id), whole (no amount: the rest) or in part. */
export function reverse(
  ctx: CoreContext,
  i: { targetId: string; amount?: number } & Acting,
): Promise<Outcome<ReversalView>> {
  return run(
    ctx,
    { kind: OpKind.Reverse, target: i.targetId, amount: i.amount, actor: i.actor, reason: i.reason },
    i.idempotency,
    i.tags,
  );
}

/** Credits (amount > 0) or debits (amount < 0) a wallet (currency absent: the default) with a reason. */
export function adjust(
  ctx: CoreContext,
  i: { userId: number; amount: number; currency?: string } & Acting,
): Promise<Outcome<AdjustmentView>> {
  return run(
    ctx,
    {
      kind: OpKind.Adjust,
      counterpartyId: i.userId,
      amount: i.amount,
      currency: i.currency,
      actor: i.actor,
      reason: i.reason,
    },
    i.idempotency,
    i.tags,
  );
}

/** A user's wallet in a currency (absent: the default), as an operator sees it. */
export async function inspect(ctx: CoreContext, userId: number, currency?: string): Promise<InspectView> {
  const view = await inspectWallet(ctx.db, userId, currency ?? ctx.currencies.defaultCurrency);
  if (!view) throw new WalletError("wallet_not_found", `There is no wallet ${userId}.`);
  return view;
}

export type AuditPage = { entries: AuditEntry[]; next_after: string | null };

/** The audit log, oldest first; pass next_after as after for the next page (null: no more). */
export async function auditLog(ctx: CoreContext, after: string | null, limit: number): Promise<AuditPage> {
  const rows = await selectAudit(ctx.db, after, limit + 1);
  const entries = rows.slice(0, limit);
  return { entries, next_after: rows.length > limit ? entries.at(-1)!.id : null };
}

export type Statement = {
  from: string;
  to: string;
  currency: string;
  opening_balance: number;
  closing_balance: number;
  total_in: number;
  total_out: number;
  entries: HistoryEntry[];
};

/** The longest range a statement may cover. */
export const STATEMENT_MAX_DAYS = 366;

/** A wallet's statement for [from, to), oldest first; opening + in - out = closing. */
export async function statement(
  ctx: CoreContext,
  i: { userId: number; currency?: string; from: Date; to: Date },
): Promise<Statement> {
  if (i.from >= i.to) throw new WalletError("invalid_request", "from must be before to.");
  if (i.to.getTime() - i.from.getTime() > STATEMENT_MAX_DAYS * 86_400_000) {
    throw new WalletError("invalid_request", `A statement covers at most ${STATEMENT_MAX_DAYS} days.`);
  }
  const currency = i.currency ?? ctx.currencies.defaultCurrency;
  const { opening, rows } = await routedStatement(ctx, i.userId, currency, i.from, i.to);
  let totalIn = 0;
  let totalOut = 0;
  for (const r of rows) {
    if (r.direction === 1) totalIn += r.amount;
    else totalOut += r.amount;
  }
  return {
    from: i.from.toISOString(),
    to: i.to.toISOString(),
    currency,
    opening_balance: opening,
    closing_balance: opening + totalIn - totalOut,
    total_in: totalIn,
    total_out: totalOut,
    entries: rows.map(toHistoryEntry),
  };
}

/** The balances at an instant (entries at or before it; 0 before the first). */
export async function balanceAtInstant(
  ctx: CoreContext,
  userId: number,
  at: Date,
  currency = ctx.currencies.defaultCurrency,
): Promise<{ currency: string; balance: number; available_balance: number; at: string }> {
  const b = await routedBalanceAt(ctx, userId, currency, at);
  return { currency, balance: b.balance, available_balance: b.available, at: at.toISOString() };
}
