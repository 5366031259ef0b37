/** The direct client: the core on the database, no server in between. */
import { ERROR_CODES, WalletError } from "../core/errors.js";
import { userLimits } from "../core/limits.js";
import { createQuote, exchange, listRates } from "../core/fx.js";
import { BAD_CURSOR, decodeCursor, getHistory } from "../core/history.js";
import { unwrap } from "../core/outcome.js";
import { getEvents } from "../core/events/pages.js";
import { getHold, listHolds } from "../core/holds.js";
import { balanceAtInstant, statement } from "../core/operator.js";
import { acceptTransfer, captureHold, deposit, placeHold, transfer, voidHold, withdraw } from "../core/operations.js";
import { routedBalances } from "../core/reads/reads.js";
import { walletIn } from "../core/store/wallets.js";
import { getTransfer, publicView } from "../core/transfers.js";
import { batchOutcome } from "../server/batchOperations.js";
import type { DirectProcess } from "../server/process/assemble.js";
import type { CurrencyBalance, WalletClient } from "./client.js";

/** quoteTtlSeconds: how long a quote holds (the configuration's FX_QUOTE_TTL_S) */
export function createDirectClient(
  direct: DirectProcess,
  target: string,
  opts: { quoteTtlSeconds: number },
): WalletClient {
  const { ctx } = direct;
  // the core takes a currency as given: direct mode judges it as the API does (CURRENCIES)
  const resolve = (currency?: string) => ctx.currencies.resolve(currency);

  async function balanceIn(userId: number, currency: string): Promise<CurrencyBalance> {
    const b = walletIn(await routedBalances(ctx, userId), currency);
    return {
      currency,
      balance: b.balance,
      available_balance: b.available,
      version: b.walletVersion,
      credit_limit: b.creditLimit,
    };
  }

  return {
    target,
    deposit: async (userId, amount, currency, tags) =>
      unwrap(await deposit(ctx, { userId, amount, currency: resolve(currency), tags })),
    withdraw: async (userId, amount, currency, tags) =>
      unwrap(await withdraw(ctx, { userId, amount, currency: resolve(currency), tags })),
    transfer: async (userId, toUserId, amount, currency, tags) =>
      unwrap(await transfer(ctx, { userId, toUserId, amount, currency: resolve(currency), tags })),
    transferAsync: async (userId, toUserId, amount, currency, tags) =>
      unwrap(await acceptTransfer(ctx, { userId, toUserId, amount, currency: resolve(currency), tags })),
    batch: async (userId, operations) => {
      // validated as the API validates a batch's operations (a malformed one: exit 2)
      const r = await batchOutcome(ctx, userId, operations, undefined);
      if (r.ok) return r.value;
      throw new WalletError(r.code, ERROR_CODES[r.code].message, r.details);
    },
    transferStatus: async (userId, transferId) => {
      let t = await getTransfer(ctx, { transferId, viewerUserId: userId });
      if (t.status === "pending") {
        // with no server running, nobody else may apply it: lend a hand
        await direct.transfers.step(50);
        t = await getTransfer(ctx, { transferId, viewerUserId: userId });
      }
      return publicView(t);
    },
    balance: (userId, currency) => balanceIn(userId, resolve(currency)),
    limits: (userId, currency) => userLimits(ctx, userId, resolve(currency)),
    // as the API answers it: sorted by code, the default currency always among them
    balances: async (userId) => {
      const u = await routedBalances(ctx, userId);
      const codes = new Set([ctx.currencies.defaultCurrency, ...u.wallets.map((w) => w.currency)]);
      const balances = [...codes].sort().map((code) => {
        const w = walletIn(u, code);
        return {
          currency: code,
          balance: w.balance,
          available_balance: w.available,
          version: w.walletVersion,
          credit_limit: w.creditLimit,
        };
      });
      return { balances };
    },
    placeHold: async (h) => unwrap(await placeHold(ctx, { ...h, currency: resolve(h.currency) })),
    // the operator: no actor, any hold
    captureHold: async (h) => unwrap(await captureHold(ctx, { holdId: h.holdId, amount: h.amount })),
    voidHold: async (h) => unwrap(await voidHold(ctx, { holdId: h.holdId })),
    getHold: (h) => getHold(ctx, { holdId: h.holdId }),
    listHolds: (userId, q) => listHolds(ctx, { userId, ...q }),
    balanceAt: (userId, at, currency) => balanceAtInstant(ctx, userId, at, resolve(currency)),
    statement: (userId, from, to, currency) => statement(ctx, { userId, from, to, currency: resolve(currency) }),
    // direct mode has no change feed: a wait is a poll, once a second
    events: async (userId, q) => {
      const deadline = Date.now() + q.waitSeconds * 1000;
      for (;;) {
        const page = await getEvents(ctx, { userId, after: q.after, limit: q.limit, waitMs: 0 });
        if (page.events.length > 0 || Date.now() >= deadline) return page;
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    history: async (userId, { cursor, currency, reference, ...q }) => {
      const before = cursor === undefined ? undefined : (decodeCursor(cursor) ?? undefined);
      if (cursor !== undefined && before === undefined) throw new WalletError("invalid_request", BAD_CURSOR);
      const { version: _v, ...page } = await getHistory(ctx, {
        userId,
        // a reference is looked up in every currency unless one is named, as over the API
        currency: reference !== undefined && currency === undefined ? undefined : resolve(currency),
        reference,
        ...q,
        cursor: before,
      });
      return page;
    },
    fxRates: () => listRates(ctx),
    createQuote: async (q) =>
      unwrap(
        await createQuote(ctx, {
          userId: q.userId,
          from: resolve(q.from),
          to: resolve(q.to),
          amount: q.amount,
          ttlSeconds: opts.quoteTtlSeconds,
        }),
      ),
    exchange: async (userId, quoteId) => unwrap(await exchange(ctx, { userId, quoteId })),
    close: () => direct.close(),
  };
}
