import type { CoreContext } from "./context.js";
import { query } from "./db.js";
import { WalletError } from "./errors.js";

export type TransferStatus = "pending" | "completed" | "failed" | "dead";

export type TransferView = {
  transfer_id: string;
  status: TransferStatus;
  amount: number;
  source_user_id: number;
  destination_user_id: number;
  async: boolean;
  failure_reason?: string;
  attempts: number;
  last_error?: string;
  created_at: string;
  completed_at: string | null;
};

type TransferRow = {
  id: string;
  status: TransferStatus;
  amount: number;
  from_user_id: number;
  to_user_id: number;
  async: boolean;
  failure_reason: string | null;
  attempts: number;
  last_error: string | null;
  created_at: Date;
  completed_at: Date | null;
};

const COLUMNS = `id::text as id, status, amount, from_user_id, to_user_id, async, failure_reason,
                 attempts, last_error, created_at, completed_at`;

function view(r: TransferRow): TransferView {
  return {
    transfer_id: r.id,
    status: r.status,
    amount: r.amount,
    source_user_id: r.from_user_id,
    destination_user_id: r.to_user_id,
    async: r.async,
    ...(r.failure_reason ? { failure_reason: r.failure_reason } : {}),
    attempts: r.attempts,
    ...(r.last_error ? { last_error: r.last_error } : {}),
    created_at: new Date(r.created_at).toISOString(),
    completed_at: r.completed_at ? new Date(r.completed_at).toISOString() : null,
  };
}

/** What a transfer's users (not operators) see: a dead-lettered transfer is not
 * final for them, since an operator will retry it, so it shows as pending. */
export type PublicTransferView = {
  transfer_id: string;
  status: "pending" | "completed" | "failed";
  amount: number;
  source_user_id: number;
  destination_user_id: number;
  failure_reason?: string;
  dead_lettered?: boolean;
  created_at: string;
  completed_at: string | null;
};

export function publicView(t: TransferView): PublicTransferView {
  return {
    transfer_id: t.transfer_id,
    status: t.status === "dead" ? "pending" : t.status,
    amount: t.amount,
    source_user_id: t.source_user_id,
    destination_user_id: t.destination_user_id,
    ...(t.failure_reason ? { failure_reason: t.failure_reason } : {}),
    ...(t.status === "dead" ? { dead_lettered: true } : {}),
    created_at: t.created_at,
    completed_at: t.completed_at,
  };
}

const ID_PATTERN = /^[0-9]{1,19}$/;

/**
 * One transfer, as its sender or receiver sees it. Anyone else (and any id that
 * does not exist) gets not_found: the answer does not reveal which.
 */
export async function getTransfer(
  ctx: CoreContext,
  input: { transferId: string; viewerUserId?: number },
): Promise<TransferView> {
  if (!ID_PATTERN.test(input.transferId) || BigInt(input.transferId) > 9223372036854775807n) {
    throw new WalletError("not_found", "No such transfer.");
  }
  const { rows } = await ctx.db.knex.raw<{ rows: TransferRow[] }>(
    `select ${COLUMNS} from transfers where id = ?::bigint`,
    [input.transferId],
  );
  const row = rows[0];
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
  const where: string[] = [];
  const args: unknown[] = [];
  if (input.status) {
    where.push("status = ?");
    args.push(input.status);
  }
  if (input.userId) {
    where.push("(from_user_id = ? or to_user_id = ?)");
    args.push(input.userId, input.userId);
  }
  const rows = await query<TransferRow>(
    ctx.db.knex,
    `select ${COLUMNS} from transfers ${where.length ? "where " + where.join(" and ") : ""}
      order by id desc limit ?`,
    [...args, input.limit],
  );
  return rows.map(view);
}

/** Puts a dead-lettered transfer back in the queue with a fresh set of attempts. */
export async function retryTransfer(ctx: CoreContext, transferId: string): Promise<TransferView> {
  if (!ID_PATTERN.test(transferId)) throw new WalletError("not_found", "No such transfer.");
  const { rows } = await ctx.db.knex.raw<{ rows: Array<{ status: string }> }>(
    `with target as (select id, status from transfers where id = ?::bigint),
          requeued as (
            update transfers t set status = 'pending', attempts = 0, next_attempt_at = now(), updated_at = now()
              from target where t.id = target.id and target.status = 'dead' returning t.id)
     select target.status, (select count(*) from requeued)::int as n, pg_notify('wallet_transfers', '') from target`,
    [transferId],
  );
  const row = rows[0];
  if (!row) throw new WalletError("not_found", "No such transfer.");
  if (row.status !== "dead") {
    throw new WalletError(
      "invalid_request",
      `Transfer ${transferId} is ${row.status}, not dead; only dead transfers can be retried.`,
    );
  }
  return getTransfer(ctx, { transferId });
}
