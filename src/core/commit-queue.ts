/**
 * For an output whose records settle out of order (commands that finish in
 * any order; a chunk dropped because the queue is full while older chunks are
 * still being written), turns settlements into the in-order `ctx.commit(n)`
 * of the output contract: a record is committed only once every record the
 * output accepted before it is settled too.
 *
 * Use: `hold(n)` when n accepted records start on their way (keep the ticket),
 * `settle(ticket)` when they are written or lost; `now(n)` for records settled
 * the moment they arrive (dropped or skipped in write()); `settleAll()` at
 * close, for what is abandoned.
 */
export class CommitQueue {
  /** Records per ticket, from the oldest ticket not yet forgotten. */
  private readonly counts: number[] = [];
  private readonly done: boolean[] = [];
  /** Index of the oldest unsettled ticket (everything before it is committed). */
  private head = 0;
  /** Ticket number of counts[0]. */
  private first = 0;
  private heldRecords = 0;

  constructor(private readonly commit: (n: number) => void) {}

  /** Records held and not yet settled. */
  get held(): number {
    return this.heldRecords;
  }

  /** n accepted records start on their way: returns the ticket that settles them. */
  hold(n: number): number {
    this.counts.push(n);
    this.done.push(false);
    this.heldRecords += n;
    return this.first + this.counts.length - 1;
  }

  /** The records of a ticket are written or lost. Settling a ticket twice changes nothing. */
  settle(ticket: number): void {
    const i = ticket - this.first;
    if (i < this.head || i >= this.counts.length || this.done[i]) return;
    this.done[i] = true;
    this.heldRecords -= this.counts[i];
    if (i === this.head) this.advance();
  }

  /** Settles every ticket up to and including `ticket` (a connection lost with all it carried). */
  settleThrough(ticket: number): void {
    const end = Math.min(ticket - this.first + 1, this.counts.length);
    for (let i = this.head; i < end; i++) {
      if (this.done[i]) continue;
      this.done[i] = true;
      this.heldRecords -= this.counts[i];
    }
    this.advance();
  }

  /** Settles everything held (close: what is left was counted as dropped or spooled). */
  settleAll(): void {
    this.settleThrough(this.first + this.counts.length - 1);
  }

  /** n records settled as they arrive: committed at once, or after those held before them. */
  now(n: number): void {
    if (this.head === this.counts.length) {
      this.commit(n);
      return;
    }
    const last = this.counts.length - 1;
    if (this.done[last]) this.counts[last] += n;
    else {
      this.counts.push(n);
      this.done.push(true);
    }
  }

  private advance(): void {
    let n = 0;
    while (this.head < this.counts.length && this.done[this.head]) n += this.counts[this.head++];
    if (this.head === this.counts.length) {
      this.first += this.counts.length;
      this.counts.length = this.done.length = this.head = 0;
    } else if (this.head >= 1024) {
      // Forget settled tickets now and then, not on every settle.
      this.counts.splice(0, this.head);
      this.done.splice(0, this.head);
      this.first += this.head;
      this.head = 0;
    }
    if (n > 0) this.commit(n);
  }
}
