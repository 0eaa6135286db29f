/**
 * Rows waiting for the database, oldest first, with what the writer needs
 * to know about each: its size (the queue is bounded in bytes as well as
 * rows) and, for a row read back from a segment file, where it came from
 * (its commit marker then records the segment's progress).
 *
 * Committed batches leave from the front by moving an index, so taking a
 * batch off costs nothing however many rows wait behind it; the arrays are
 * compacted once most of them is gone. Rows dropped for room just behind
 * the batch in flight leave as a gap that grows in place and is closed when
 * that batch leaves, so dropping the oldest costs no copy per packet.
 */
import type { Segment } from './segment.js';

export interface Origin {
  seg: Segment;
  /** Byte offset just after the row's line. */
  end: number;
}

export class RowQueue {
  /** Bytes of the rows in the queue (see rowBytes). */
  bytes = 0;
  private rows: unknown[][] = [];
  private from: Array<Origin | null> = [];
  private sizes: number[] = [];
  private head = 0;
  private gapAt = 0;
  private gap = 0;

  get length(): number {
    return this.rows.length - this.head - this.gap;
  }

  push(row: unknown[], size: number, from: Origin | null = null): void {
    this.rows.push(row);
    this.sizes.push(size);
    this.from.push(from);
    this.bytes += size;
  }

  /** The first `n` rows, left in place. */
  first(n: number): unknown[][] {
    this.closeGapBefore(n);
    return this.rows.slice(this.head, this.head + n);
  }

  /** Where the row at position `i` came from (null: straight from the pipeline). */
  origin(i: number): Origin | null {
    this.closeGapBefore(i + 1);
    return this.from[this.head + i];
  }

  /** Drops the first `n` rows; `each` sees the origin of every row that came from a segment. */
  shift(n: number, each: (o: Origin) => void): void {
    this.closeGapBefore(n);
    n = Math.min(n, this.length);
    for (let i = this.head; i < this.head + n; i++) {
      this.bytes -= this.sizes[i];
      const o = this.from[i];
      if (o) each(o);
    }
    this.head += n;
    if (this.gap && this.gapAt === n) {
      this.head += this.gap;
      this.gap = 0;
    } else if (this.gap) {
      this.gapAt -= n;
    }
    if (this.head >= 4096 && this.head * 2 >= this.rows.length) this.compact();
  }

  /** Drops the row at position `i` (the oldest behind the batch in flight); returns its origin. */
  dropAt(i: number): Origin | null {
    if (this.gap && this.gapAt !== i) this.closeGap();
    this.gapAt = i;
    const at = this.head + i + this.gap;
    this.gap++;
    this.bytes -= this.sizes[at];
    const o = this.from[at];
    this.rows[at] = [];
    this.from[at] = null;
    return o;
  }

  /** Every row still waiting with its origin, in order. */
  all(): Array<{ row: unknown[]; from: Origin | null }> {
    this.closeGap();
    const out = [];
    for (let i = this.head; i < this.rows.length; i++) out.push({ row: this.rows[i], from: this.from[i] });
    return out;
  }

  private closeGapBefore(n: number): void {
    if (this.gap && this.gapAt < n) this.closeGap();
  }

  private closeGap(): void {
    const at = this.head + this.gapAt;
    this.rows.splice(at, this.gap);
    this.from.splice(at, this.gap);
    this.sizes.splice(at, this.gap);
    this.gap = 0;
  }

  private compact(): void {
    this.closeGap();
    this.rows = this.rows.slice(this.head);
    this.from = this.from.slice(this.head);
    this.sizes = this.sizes.slice(this.head);
    this.head = 0;
  }
}
