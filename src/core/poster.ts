/**
 * The database calls behind the money-moving use cases, batched by group commit
 * (see batcher.ts): wallet_post for deposit, withdraw and transfer v1, and
 * wallet_accept_transfers for transfer v2 acceptance.
 */
import { Batcher } from "./batcher.js";
import { query, type Database } from "./db.js";

export const enum OpKind {
  Deposit = 1,
  Withdraw = 2,
  Transfer = 3,
}

export type PostOp = {
  kind: OpKind;
  userId: number;
  counterpartyId: number | null;
  amount: number;
  idempotencyKey: string | null;
  requestHash: string | null;
};

export type PostResult = {
  outcome: string;
  result: Record<string, unknown> | null;
  replayed: boolean;
  userVersion: number | null;
  counterpartyVersion: number | null;
};

export type AcceptOp = Omit<PostOp, "kind" | "counterpartyId"> & { toUserId: number };
export type AcceptResult = Pick<PostResult, "outcome" | "result" | "replayed">;

export type PosterOptions = { groupCommit?: boolean; maxBatch?: number; maxInFlight?: number };

export class Poster {
  private readonly posts: Batcher<PostOp, PostResult>;
  private readonly accepts: Batcher<AcceptOp, AcceptResult>;

  constructor(db: Database, opts: PosterOptions = {}) {
    const batching = {
      maxBatch: opts.groupCommit === false ? 1 : (opts.maxBatch ?? 256),
      // PGlite has one connection: more than one batch in flight would only queue
      maxInFlight: db.engine === "pglite" ? 1 : (opts.maxInFlight ?? 4),
    };
    this.posts = new Batcher((ops) => callPost(db, ops), batching);
    this.accepts = new Batcher((ops) => callAccept(db, ops), batching);
  }

  post(op: PostOp): Promise<PostResult> {
    return this.posts.submit(op);
  }

  accept(op: AcceptOp): Promise<AcceptResult> {
    return this.accepts.submit(op);
  }

  async drain(): Promise<void> {
    await Promise.all([this.posts.drain(), this.accepts.drain()]);
  }
}

type PostRow = {
  ord: number;
  outcome: string;
  result: Record<string, unknown> | null;
  replayed: boolean;
  user_version: number | null;
  counterparty_version: number | null;
};

export async function callPost(db: Database, ops: PostOp[]): Promise<PostResult[]> {
  const rows = await query<PostRow>(
    db.knex,
    "select * from wallet_post(?::smallint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[])",
    [
      ops.map((o) => o.kind),
      ops.map((o) => o.userId),
      ops.map((o) => o.counterpartyId),
      ops.map((o) => o.amount),
      ops.map((o) => o.idempotencyKey),
      ops.map((o) => o.requestHash),
    ],
  );
  const out = new Array<PostResult>(ops.length);
  for (const r of rows) {
    out[r.ord - 1] = {
      outcome: r.outcome,
      result: r.result,
      replayed: r.replayed,
      userVersion: r.user_version,
      counterpartyVersion: r.counterparty_version,
    };
  }
  return out;
}

export async function callAccept(db: Database, ops: AcceptOp[]): Promise<AcceptResult[]> {
  const rows = await query<{ ord: number } & AcceptResult>(
    db.knex,
    "select * from wallet_accept_transfers(?::bigint[], ?::bigint[], ?::bigint[], ?::text[], ?::text[])",
    [
      ops.map((o) => o.userId),
      ops.map((o) => o.toUserId),
      ops.map((o) => o.amount),
      ops.map((o) => o.idempotencyKey),
      ops.map((o) => o.requestHash),
    ],
  );
  const out = new Array<AcceptResult>(ops.length);
  for (const r of rows) out[r.ord - 1] = { outcome: r.outcome, result: r.result, replayed: r.replayed };
  return out;
}
