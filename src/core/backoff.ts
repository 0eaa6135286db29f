/**
 * Exponential back-off for retrying a connection or a write: the first retry
 * after `min` ms, doubling up to `max`; reset() after a success.
 */
export class Backoff {
  private delay: number;

  constructor(
    readonly min = 100,
    readonly max = 5000,
  ) {
    this.delay = min;
  }

  /** The wait before the next attempt; the one after it is twice as long (at most `max`). */
  next(): number {
    const d = this.delay;
    this.delay = Math.min(this.delay * 2, this.max);
    return d;
  }

  reset(): void {
    this.delay = this.min;
  }
}
