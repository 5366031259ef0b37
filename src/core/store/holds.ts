/** Reading holds, and the background marker of expired ones. */
import type { Executor } from "../db/index.js";
import type { HoldStatus, HoldView } from "../operations.js";

/** A hold as the API shows it (wallet_hold_json: past expires_at it is expired, marked yet or not). */
export async function selectHold(db: Executor, id: string): Promise<HoldView | undefined> {
  const [row] = await db.query<{ hold: HoldView }>("select wallet_hold_json(h) as hold from holds h where id = $1", [
    id,
  ]);
  return row?.hold;
}

/** A payer's holds, newest first; one more than limit tells whether another page follows. */
export async function selectHolds(
  db: Executor,
  q: { userId: number; status?: HoldStatus; limit: number; offset: number },
): Promise<HoldView[]> {
  // "expired" includes held holds past their expiry; "held" excludes them
  const rows = await db.query<{ hold: HoldView }>(
    `select wallet_hold_json(h) as hold from holds h
      where h.user_id = $1
        and ($2::text is null
             or ($2 = 'held' and h.status = 'held' and h.expires_at > now())
             or ($2 = 'expired' and (h.status = 'expired' or (h.status = 'held' and h.expires_at <= now())))
             or ($2 in ('captured', 'voided') and h.status = $2))
      order by h.id desc limit $3 offset $4`,
    [q.userId, q.status ?? null, q.limit, q.offset],
  );
  return rows.map((r) => r.hold);
}

/** Marks expired holds of up to limit wallets (wallet_expire_holds); returns how many. */
export async function expireHolds(db: Executor, limit: number): Promise<number> {
  const [row] = await db.query<{ n: number }>("select wallet_expire_holds($1) as n", [limit]);
  return row!.n;
}
