/**
 * One interface for the operations a person runs from the command line, with two
 * implementations: HTTP against a live server (--api) and direct on the database.
 * The commands and their output code do not know which one they have.
 */
import type { EntryTypeFilter, HistoryPage } from "../core/history.js";
import type { HoldPage } from "../core/holds.js";
import type { EventPage } from "../core/events/pages.js";
import type { Statement } from "../core/operator.js";
import type {
  BalanceChange,
  HoldChange,
  HoldStatus,
  HoldView,
  TransferAccepted,
  TransferDone,
} from "../core/operations.js";
import type { PublicTransferView } from "../core/transfers.js";
import type { ExchangeDone, QuoteRow, RateRow } from "../core/fx.js";
import type { BatchDone } from "../core/batches.js";
import type { Tags } from "../core/operations.js";
import type { LimitsView } from "../core/limits.js";

export type TransferStatusView = PublicTransferView;

/** One currency's balances, as /balance/v1 and each entry of /balances/v1 answer them. */
/** version: the wallet's (absent for a past balance), what expected_version compares with */
export type CurrencyBalance = {
  currency: string;
  balance: number;
  available_balance: number;
  version?: number;
  credit_limit?: number;
};

/**
 * currency, wherever it is optional: an ISO 4217 code; absent, the server's (or in
 * direct mode the configuration's) DEFAULT_CURRENCY.
 */
export interface WalletClient {
  readonly target: string;
  deposit(userId: number, amount: number, currency?: string, tags?: Tags): Promise<BalanceChange>;
  withdraw(userId: number, amount: number, currency?: string, tags?: Tags): Promise<BalanceChange>;
  transfer(fromUserId: number, toUserId: number, amount: number, currency?: string, tags?: Tags): Promise<TransferDone>;
  transferAsync(
    fromUserId: number,
    toUserId: number,
    amount: number,
    currency?: string,
    tags?: Tags,
  ): Promise<TransferAccepted>;
  /** the user's operations (the API's JSON), all applied in order or none: batch_refused with details {index, code} */
  batch(userId: number, operations: unknown[]): Promise<BatchDone>;
  /** the transfer as its sender sees it; in direct mode this also lends a hand applying it */
  transferStatus(userId: number, transferId: string): Promise<TransferStatusView>;
  balance(userId: number, currency?: string): Promise<CurrencyBalance>;
  /** every currency the user has a wallet in, sorted by code (the default always) */
  balances(userId: number): Promise<{ balances: CurrencyBalance[] }>;
  /** the user's tier, credit line and limits in a currency, with this UTC day's and month's use */
  limits(userId: number, currency?: string): Promise<LimitsView>;
  placeHold(h: {
    userId: number;
    toUserId?: number;
    amount: number;
    expiresInSeconds?: number;
    currency?: string;
  }): Promise<HoldChange>;
  /** actorId: who acts (needed over the API); direct mode acts as the operator, on any hold */
  captureHold(h: { holdId: string; amount?: number; actorId?: number }): Promise<HoldChange>;
  voidHold(h: { holdId: string; actorId?: number }): Promise<HoldChange>;
  getHold(h: { holdId: string; viewerId?: number }): Promise<HoldView>;
  listHolds(userId: number, q: { status?: HoldStatus; page: number; pageSize: number }): Promise<HoldPage>;
  balanceAt(userId: number, at: Date, currency?: string): Promise<CurrencyBalance & { at: string }>;
  statement(userId: number, from: Date, to: Date, currency?: string): Promise<Statement>;
  events(userId: number, q: { after: number; limit: number; waitSeconds: number }): Promise<EventPage>;
  /** cursor: a page's next_cursor, as it came (opaque); with it, page is 1 */
  history(
    userId: number,
    q: {
      type: EntryTypeFilter;
      page: number;
      pageSize: number;
      cursor?: string;
      currency?: string;
      reference?: string;
    },
  ): Promise<HistoryPage>;
  /** the exchange rates the operator has set; viewerId: who asks, over an API that wants a user */
  fxRates(viewerId?: number): Promise<{ rates: RateRow[] }>;
  /** a quote for the user: amount minor units of from, converted to to at the pair's rate */
  createQuote(q: { userId: number; from: string; to: string; amount: number }): Promise<QuoteRow>;
  /** executes the user's quote */
  exchange(userId: number, quoteId: string): Promise<ExchangeDone>;
  close(): Promise<void>;
}
