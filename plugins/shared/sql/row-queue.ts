/**
 * Rows waiting for the database, oldest first. Committed batches leave from
 * the front by moving an index, so taking a batch off costs nothing however
 * many rows wait behind it; the array is compacted once most of it is gone.
 */
export class RowQueue {
  private head = 0;

  constructor(private rows: unknown[][] = []) {}

  get length(): number {
    return this.rows.length - this.head;
  }

  push(row: unknown[]): void {
    this.rows.push(row);
  }

  append(rows: unknown[][]): void {
    for (const r of rows) this.rows.push(r);
  }

  /** The first `n` rows, left in place. */
  first(n: number): unknown[][] {
    return this.rows.slice(this.head, this.head + n);
  }

  /** Drops the first `n` rows. */
  shift(n: number): void {
    this.head += Math.min(n, this.length);
    if (this.head >= 4096 && this.head * 2 >= this.rows.length) {
      this.rows = this.rows.slice(this.head);
      this.head = 0;
    }
  }

  /** Drops the row at position `i` from the front. */
  removeAt(i: number): void {
    this.rows.splice(this.head + i, 1);
  }

  all(): unknown[][] {
    return this.rows.slice(this.head);
  }
}
