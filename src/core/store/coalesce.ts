/**
 * Reads of the same statement asked for in the same turn of the event loop, sent as
 * one statement over an array of keys: under load, one round trip (and one pool
 * checkout, one executor start in PostgreSQL) serves every request of the turn, as
 * group commit does for writes. A read waits at most until the next turn. Each
 * executor (the primary's pool, a replica's) batches on its own.
 */
import type { Executor } from "../db/index.js";

type Waiter<V> = { resolve: (v: V | undefined) => void; reject: (err: unknown) => void };

export function coalesced<V>(
  fetch: (db: Executor, keys: number[]) => Promise<Map<number, V>>,
  maxKeys = 500,
): (db: Executor, key: number) => Promise<V | undefined> {
  const pending = new Map<Executor, Map<number, Waiter<V>[]>>();

  async function flush(db: Executor, batch: Map<number, Waiter<V>[]>): Promise<void> {
    try {
      const found = await fetch(db, [...batch.keys()]);
      for (const [key, waiters] of batch) for (const w of waiters) w.resolve(found.get(key));
    } catch (err) {
      for (const waiters of batch.values()) for (const w of waiters) w.reject(err);
    }
  }

  return (db, key) =>
    new Promise<V | undefined>((resolve, reject) => {
      let batch = pending.get(db);
      if (!batch) {
        const fresh = new Map<number, Waiter<V>[]>();
        pending.set(db, (batch = fresh));
        setImmediate(() => {
          if (pending.get(db) === fresh) pending.delete(db);
          void flush(db, fresh);
        });
      }
      const waiters = batch.get(key);
      if (waiters) waiters.push({ resolve, reject });
      else batch.set(key, [{ resolve, reject }]);
      if (batch.size >= maxKeys) pending.delete(db); // full: the next read starts another
    });
}
