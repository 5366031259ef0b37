/**
 * Idempotency-Key for the admin POSTs that move no money (webhook endpoints and their
 * rotations and retries, balance monitors): money operations keep their key inside
 * wallet_apply, in the write's own transaction; these keep it in the same table
 * (idempotency_keys, the operator's scope 0) around the action:
 *
 * - the key is taken first (a row without an outcome); a concurrent request with the
 *   same key finds it taken and is answered 409 idempotency_key_in_progress;
 * - the action runs; its answer is stored with the key, and a repeat of the same request
 *   is answered with it (Idempotent-Replayed: true), another request under the key 422
 *   idempotency_key_reused;
 * - an action that fails (refused, or the database away) releases the key, so the same
 *   request may be sent again.
 *
 * A process that dies between the action and the storing of its answer leaves the key
 * taken: a repeat is 409 until the key is purged (24 h), never a second endpoint.
 */
import type { Database } from "../core/db/index.js";
import { WalletError } from "../core/errors.js";
import type { Idempotency } from "../core/outcome.js";
import type { Reply } from "./routes.js";

const STORED = "stored";

export async function withStoredReply(db: Database, idem: Idempotency, act: () => Promise<Reply>): Promise<Reply> {
  const taken = await db.query(
    `insert into idempotency_keys (user_id, key, request_hash) values (0, $1, $2)
     on conflict do nothing returning 1 as taken`,
    [idem.key, idem.hash],
  );
  if (taken.length === 0) {
    const [k] = await db.query<{ request_hash: string; outcome: string | null; result: Reply | null }>(
      "select request_hash, outcome, result from idempotency_keys where user_id = 0 and key = $1",
      [idem.key],
    );
    if (k && k.request_hash !== idem.hash) throw new WalletError("idempotency_key_reused");
    if (!k || k.outcome !== STORED || !k.result) throw new WalletError("idempotency_key_in_progress");
    return { ...k.result, headers: { ...k.result.headers, "Idempotent-Replayed": "true" } };
  }
  let reply: Reply;
  try {
    reply = await act();
  } catch (err) {
    await db
      .query("delete from idempotency_keys where user_id = 0 and key = $1 and outcome is null", [idem.key])
      .catch(() => undefined); // the database away: the key stays taken until purged (the safe side)
    throw err;
  }
  await db.query("update idempotency_keys set outcome = $2, result = $3 where user_id = 0 and key = $1", [
    idem.key,
    STORED,
    JSON.stringify(reply),
  ]);
  return reply;
}
