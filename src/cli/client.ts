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

export type TransferStatusView = PublicTransferView;

export interface WalletClient {
  readonly target: string;
  deposit(userId: number, amount: number): Promise<BalanceChange>;
  withdraw(userId: number, amount: number): Promise<BalanceChange>;
  transfer(fromUserId: number, toUserId: number, amount: number): Promise<TransferDone>;
  transferAsync(fromUserId: number, toUserId: number, amount: number): Promise<TransferAccepted>;
  /** the transfer as its sender sees it; in direct mode this also lends a hand applying it */
  transferStatus(userId: number, transferId: string): Promise<TransferStatusView>;
  balance(userId: number): Promise<{ balance: number; available_balance: number }>;
  placeHold(h: { userId: number; toUserId?: number; amount: number; expiresInSeconds?: number }): Promise<HoldChange>;
  /** actorId: who acts (needed over the API); direct mode acts as the operator, on any hold */
  captureHold(h: { holdId: string; amount?: number; actorId?: number }): Promise<HoldChange>;
  voidHold(h: { holdId: string; actorId?: number }): Promise<HoldChange>;
  getHold(h: { holdId: string; viewerId?: number }): Promise<HoldView>;
  listHolds(userId: number, q: { status?: HoldStatus; page: number; pageSize: number }): Promise<HoldPage>;
  balanceAt(userId: number, at: Date): Promise<{ balance: number; available_balance: number; at: string }>;
  statement(userId: number, from: Date, to: Date): Promise<Statement>;
  events(userId: number, q: { after: number; limit: number; waitSeconds: number }): Promise<EventPage>;
  /** cursor: a page's next_cursor, as it came (opaque); with it, page is 1 */
  history(
    userId: number,
    q: { type: EntryTypeFilter; page: number; pageSize: number; cursor?: string },
  ): Promise<HistoryPage>;
  close(): Promise<void>;
}
