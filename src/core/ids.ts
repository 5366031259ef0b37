/**
 * Operation ids made in this process before an operation's first attempt: the
 * write identity that lets a retry after a lost connection be recognised (see
 * wallet_apply's p_retry). Same layout as the ids PostgreSQL makes (wallet_next_id):
 * 41 bits of milliseconds since 2025-01-01, then 22 bits, of which this side uses
 * the upper half: a flag bit, then a number from a block of 1024 drawn from
 * wallet_id_block_seq. Blocks are unique across every process sharing the
 * database; a block is used for at most one second, so two processes could only
 * collide after 2^21 numbers were drawn in that second.
 */
import type { Executor } from "./db/index.js";

const EPOCH_MS = 1_735_689_600_000n; // 2025-01-01T00:00:00Z
const BLOCK = 1024;
const BLOCK_TTL_MS = 1000;
const SERVICE_HALF = 1n << 21n;
const LOW_MASK = SERVICE_HALF - 1n;

export class IdSource {
  private next = 0;
  private end = 0;
  private drawnAt = 0;
  private lastMs = 0;
  private refilling?: Promise<void>;

  constructor(private readonly db: Executor) {}

  /** One new id, as a decimal string (it does not fit a JavaScript number). */
  async take(): Promise<string> {
    while (this.next >= this.end || Date.now() - this.drawnAt > BLOCK_TTL_MS) {
      this.refilling ??= this.refill().finally(() => (this.refilling = undefined));
      await this.refilling;
    }
    const n = this.next++;
    // never backwards, even if the clock is
    const ms = (this.lastMs = Math.max(this.lastMs, Date.now()));
    return (((BigInt(ms) - EPOCH_MS) << 22n) | SERVICE_HALF | (BigInt(n) & LOW_MASK)).toString();
  }

  private async refill(): Promise<void> {
    const [row] = await this.db.query<{ start: string }>("select nextval('wallet_id_block_seq')::text as start");
    const start = Number(BigInt(row!.start) % 2n ** 52n);
    this.next = start;
    this.end = start + BLOCK;
    this.drawnAt = Date.now();
  }
}

/** A decimal id that fits int8 (ids are 64-bit; anything else cannot name a transaction, transfer or hold). */
export function isId(id: string): boolean {
  return /^[0-9]{1,19}$/.test(id) && BigInt(id) <= 9223372036854775807n;
}
