/** The direct client: the core on the database, no server in between. */
import { WalletError } from "../core/errors.js";
import { BAD_CURSOR, decodeCursor, getHistory } from "../core/history.js";
import { unwrap } from "../core/outcome.js";
import { getEvents } from "../core/events/pages.js";
import { getHold, listHolds } from "../core/holds.js";
import { balanceAtInstant, statement } from "../core/operator.js";
import { acceptTransfer, captureHold, deposit, placeHold, transfer, voidHold, withdraw } from "../core/operations.js";
import { routedBalances } from "../core/reads/reads.js";
import { walletIn } from "../core/store/wallets.js";
import { getTransfer, publicView } from "../core/transfers.js";
import type { DirectProcess } from "../server/process/assemble.js";
import type { WalletClient } from "./client.js";

export function createDirectClient(direct: DirectProcess, target: string): WalletClient {
  const { ctx } = direct;
  return {
    target,
    deposit: async (userId, amount) => unwrap(await deposit(ctx, { userId, amount })),
    withdraw: async (userId, amount) => unwrap(await withdraw(ctx, { userId, amount })),
    transfer: async (userId, toUserId, amount) => unwrap(await transfer(ctx, { userId, toUserId, amount })),
    transferAsync: async (userId, toUserId, amount) => unwrap(await acceptTransfer(ctx, { userId, toUserId, amount })),
    transferStatus: async (userId, transferId) => {
      let t = await getTransfer(ctx, { transferId, viewerUserId: userId });
      if (t.status === "pending") {
        // with no server running, nobody else may apply it: lend a hand
        await direct.transfers.step(50);
        t = await getTransfer(ctx, { transferId, viewerUserId: userId });
      }
      return publicView(t);
    },
    balance: async (userId) => {
      const currency = ctx.currencies.defaultCurrency;
      const b = walletIn(await routedBalances(ctx, userId), currency);
      return { currency, balance: b.balance, available_balance: b.available };
    },
    placeHold: async (h) => unwrap(await placeHold(ctx, h)),
    // the operator: no actor, any hold
    captureHold: async (h) => unwrap(await captureHold(ctx, { holdId: h.holdId, amount: h.amount })),
    voidHold: async (h) => unwrap(await voidHold(ctx, { holdId: h.holdId })),
    getHold: (h) => getHold(ctx, { holdId: h.holdId }),
    listHolds: (userId, q) => listHolds(ctx, { userId, ...q }),
    balanceAt: (userId, at) => balanceAtInstant(ctx, userId, at),
    statement: (userId, from, to) => statement(ctx, { userId, from, to }),
    // direct mode has no change feed: a wait is a poll, once a second
    events: async (userId, q) => {
      const deadline = Date.now() + q.waitSeconds * 1000;
      for (;;) {
        const page = await getEvents(ctx, { userId, after: q.after, limit: q.limit, waitMs: 0 });
        if (page.events.length > 0 || Date.now() >= deadline) return page;
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    history: async (userId, { cursor, ...q }) => {
      const before = cursor === undefined ? undefined : (decodeCursor(cursor) ?? undefined);
      if (cursor !== undefined && before === undefined) throw new WalletError("invalid_request", BAD_CURSOR);
      const { version: _v, ...page } = await getHistory(ctx, {
        userId,
        currency: ctx.currencies.defaultCurrency,
        ...q,
        cursor: before,
      });
      return page;
    },
    close: () => direct.close(),
  };
}
