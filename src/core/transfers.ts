import type { CoreContext } from "./context.js";
import { WalletError } from "./errors.js";
import { isId } from "./ids.js";
import { routedTransfer } from "./reads/reads.js";
import { requeueDead, selectTransfers, type TransferRow, type TransferStatus } from "./store/transfers.js";

export type { TransferStatus };

export type TransferView = {
  transfer_id: string;
  status: TransferStatus;
  amount: number;
  currency: string;
  source_user_id: number;
  destination_user_id: number;
  async: boolean;
  failure_reason?: string;
  attempts: number;
  last_error?: string;
  created_at: string;
  completed_at: string | null;
  reference: string | null;
  metadata: Record<string, string>;
};

function view(r: TransferRow): TransferView {
  return {
    transfer_id: r.id,
    status: r.status,
    amount: r.amount,
    currency: r.currency,
    source_user_id: r.from_user_id,
    destination_user_id: r.to_user_id,
    async: r.async,
    ...(r.failure_reason ? { failure_reason: r.failure_reason } : {}),
    attempts: r.attempts,
    ...(r.last_error ? { last_error: r.last_error } : {}),
    created_at: new Date(r.created_at).toISOString(),
    completed_at: r.completed_at ? new Date(r.completed_at).toISOString() : null,
    reference: r.reference,
    metadata: r.metadata ?? {},
  };
}

/** What a transfer's users (not operators) see: a dead-lettered transfer is not
 * final for them, since an operator will retry it, so it shows as pending. */
export type PublicTransferView = {
  transfer_id: string;
  status: "pending" | "completed" | "failed";
  amount: number;
  currency: string;
  source_user_id: number;
  destination_user_id: number;
  failure_reason?: string;
  dead_lettered?: boolean;
  created_at: string;
  completed_at: string | null;
  reference: string | null;
  metadata: Record<string, string>;
};

export function publicView(t: TransferView): PublicTransferView {
  return {
    transfer_id: t.transfer_id,
    status: t.status === "dead" ? "pending" : t.status,
    amount: t.amount,
    currency: t.currency,
    source_user_id: t.source_user_id,
    destination_user_id: t.destination_user_id,
    ...(t.failure_reason ? { failure_reason: t.failure_reason } : {}),
    ...(t.status === "dead" ? { dead_lettered: true } : {}),
    created_at: t.created_at,
    completed_at: t.completed_at,
    reference: t.reference,
    metadata: t.metadata,
  };
}

/**
 * One transfer, as its sender or receiver sees it. Anyone else (and any id that
 * does not exist) gets not_found: the answer does not reveal which.
 */
export async function getTransfer(
  ctx: CoreContext,
  input: { transferId: string; viewerUserId?: number },
): Promise<TransferView> {
  if (!isId(input.transferId)) {
    throw new WalletError("not_found", "No such transfer.");
  }
  const row = await routedTransfer(ctx, input.transferId);
  if (
    !row ||
    (input.viewerUserId !== undefined &&
      row.from_user_id !== input.viewerUserId &&
      row.to_user_id !== input.viewerUserId)
  ) {
    throw new WalletError("not_found", "No such transfer.");
  }
  return view(row);
}

export async function listTransfers(
  ctx: CoreContext,
  input: { status?: TransferStatus; userId?: number; limit: number },
): Promise<TransferView[]> {
  return (await selectTransfers(ctx.db, input)).map(view);
}

/** Puts a dead-lettered transfer back in the queue with a fresh set of attempts (audited). */
export async function retryTransfer(
  ctx: CoreContext,
  transferId: string,
  by: { actor: string; reason?: string },
): Promise<TransferView> {
  if (!isId(transferId)) throw new WalletError("not_found", "No such transfer.");
  const status = await requeueDead(ctx.db, transferId, by.actor, by.reason ?? null);
  if (!status) throw new WalletError("not_found", "No such transfer.");
  if (status !== "dead") {
    throw new WalletError(
      "transfer_not_dead",
      `Transfer ${transferId} is ${status}, not dead; only dead transfers can be retried.`,
    );
  }
  return getTransfer(ctx, { transferId });
}
