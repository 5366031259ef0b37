/**
 * Event reads of one wallet asked for in the same turn of the event loop are sent as
 * one read. A commit wakes every watcher of the wallet at once (long polls and
 * WatchEvents streams), so they ask together, and one page read after the lowest
 * `after` among them serves them all, instead of one read per watcher.
 *
 * Each still gets exactly what its own read would have returned: the first `limit`
 * events after its own `after`. The shared read asks for (highest after - lowest
 * after) + the largest limit rows: at most (its after - lowest after) of them can be
 * at or below a watcher's `after` (sequences are whole numbers; pruned events only
 * leave fewer), so at least `limit` past it come back whenever that many exist.
 * Watchers too far apart for one page of MAX_ROWS are read in separate groups. At
 * most one read per wallet is under way: asks that come meanwhile share the next.
 */
import type { CoreContext } from "../context.js";
import { routedEvents } from "../reads/reads.js";
import type { EventRow } from "../store/events.js";

type Ask = {
  ctx: CoreContext;
  after: number;
  limit: number;
  resolve: (rows: EventRow[]) => void;
  reject: (err: unknown) => void;
};

/** the most rows one shared read asks for */
export const MAX_ROWS = 1000;

export class SharedEventReads {
  /** reads sent to the database (one per group of watchers served together) */
  reads = 0;
  onRead?: () => void;
  /** asks not yet answered */
  asking = 0;
  private readonly pending = new Map<number, Ask[]>();
  /** wallets with a read under way */
  private readonly busy = new Set<number>();

  async read(ctx: CoreContext, userId: number, after: number, limit: number): Promise<EventRow[]> {
    this.asking += 1;
    try {
      return await this.ask(ctx, userId, after, limit);
    } finally {
      this.asking -= 1;
    }
  }

  private ask(ctx: CoreContext, userId: number, after: number, limit: number): Promise<EventRow[]> {
    return new Promise((resolve, reject) => {
      let asks = this.pending.get(userId);
      if (!asks) {
        this.pending.set(userId, (asks = []));
        // every watcher woken by the same change asks in this turn: read once, after it.
        // While a read of the wallet is under way, asks wait for it to end and share the
        // next one (begun after they came, so it misses nothing committed before them)
        if (!this.busy.has(userId)) setImmediate(() => this.flush(userId));
      }
      asks.push({ ctx, after, limit, resolve, reject });
    });
  }

  private flush(userId: number): void {
    const asks = this.pending.get(userId);
    if (!asks || this.busy.has(userId)) return;
    this.pending.delete(userId);
    this.busy.add(userId);
    asks.sort((a, b) => a.after - b.after);
    const served: Promise<void>[] = [];
    let group: Ask[] = [];
    let widest = 0;
    for (const a of asks) {
      const first = group[0];
      if (first && (a.ctx !== first.ctx || a.after - first.after + Math.max(widest, a.limit) > MAX_ROWS)) {
        served.push(this.serve(userId, group, widest));
        group = [];
        widest = 0;
      }
      group.push(a);
      widest = Math.max(widest, a.limit);
    }
    served.push(this.serve(userId, group, widest));
    void Promise.all(served).then(() => {
      this.busy.delete(userId);
      this.flush(userId);
    });
  }

  private async serve(userId: number, group: Ask[], widest: number): Promise<void> {
    const low = group[0]!.after;
    const span = group.at(-1)!.after - low;
    this.reads += 1;
    this.onRead?.();
    try {
      const rows = await routedEvents(group[0]!.ctx, userId, low, span + widest);
      for (const a of group) {
        const from = rows.findIndex((r) => r.seq > a.after);
        a.resolve(from < 0 ? [] : rows.slice(from, from + a.limit));
      }
    } catch (err) {
      for (const a of group) a.reject(err);
    }
  }
}
