/**
 * The durability signal of one output: how many of the records its group
 * delivered to it (in delivery order) are settled, i.e. durably written,
 * sent, finished, or counted as dropped.
 *
 * The output commits the records it accepted, oldest first (ctx.commit(n)).
 * A record whose write() threw was counted as dropped by the pipeline and is
 * settled by it in its place in the order (a filter that leaves a record out
 * will do the same): it becomes settled once every record before it is.
 */
import type { Logger } from 'pino';
import type { Counters } from './counters.js';

export class OutputCommits {
  /** Accepted records the output committed. */
  private committed = 0;
  /** Records settled by the pipeline in place, all of them before the next uncommitted accepted record. */
  private inPlace = 0;
  /** Records settled by the pipeline in place so far; received minus these is what write() accepted. */
  private notAccepted = 0;
  /** Pairs (accepted records before it, records) of in-place settlements still behind an uncommitted record. */
  private readonly gaps: number[] = [];
  private warned = false;
  /** Told after every change of `settled` (the pipeline recomputes the group's committed count). */
  changed: () => void = () => {};

  constructor(
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {}

  /** Records of the group, in delivery order, that this output has settled. */
  get settled(): number {
    return this.committed + this.inPlace;
  }

  /** ctx.commit(n): the oldest n accepted records not yet committed are settled. */
  commit(n: number): void {
    const open = this.counters.received - this.notAccepted - this.committed;
    if (!Number.isInteger(n) || n < 0 || n > open) {
      // A plugin bug: committing what it never accepted would let a source acknowledge records not yet written.
      if (!this.warned) {
        this.warned = true;
        this.log.error({ n, open }, `commit(${n}) with ${open} records open: only a whole number of accepted records can be committed`);
      }
      n = Math.max(0, Math.min(Math.floor(n) || 0, open));
    }
    if (n === 0) return;
    this.committed += n;
    let i = 0;
    while (i < this.gaps.length && this.gaps[i] <= this.committed) {
      this.inPlace += this.gaps[i + 1];
      i += 2;
    }
    if (i > 0) this.gaps.splice(0, i);
    this.changed();
  }

  /** The pipeline settles the last record delivered in its place (its write() threw). */
  settleInPlace(): void {
    const accepted = this.counters.received - this.notAccepted;
    // The output committed the record itself before it threw: it is settled already.
    if (this.committed === accepted) return;
    this.notAccepted++;
    const before = accepted - 1;
    if (before === this.committed) {
      this.inPlace++;
      this.changed();
      return;
    }
    const n = this.gaps.length;
    if (n > 0 && this.gaps[n - 2] === before) this.gaps[n - 1]++;
    else this.gaps.push(before, 1);
  }
}
