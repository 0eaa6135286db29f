/**
 * Rate-limited reports of a failure that repeats (a destination away, a full
 * disk, a full buffer): the first failure of a streak is logged at once, the
 * ones after it at most once per interval with how many there were, and the
 * end of the streak once, so a dead destination at 100 000 packets a second
 * writes a few lines, not one per record.
 */
import type { Logger } from 'pino';

export interface ReporterOptions {
  /** Least time between two lines of one streak (default 60 s). */
  intervalMs?: number;
  /** Level of the failure lines (default error; warn for drops by design, say). */
  level?: 'error' | 'warn';
}

export class ErrorReporter {
  private streak = 0;
  /** Failures since the last line. */
  private unreported = 0;
  private lastLine = 0;
  private readonly intervalMs: number;
  private readonly level: 'error' | 'warn';

  constructor(
    private readonly log: Logger,
    opts: ReporterOptions = {},
  ) {
    this.intervalMs = opts.intervalMs ?? 60_000;
    this.level = opts.level ?? 'error';
  }

  /** True between a failure and the next recovered(). */
  get failing(): boolean {
    return this.streak > 0;
  }

  /** Failures in the current streak. */
  get count(): number {
    return this.streak;
  }

  /**
   * One failure; logs `message` (with `fields`, if any) when the streak starts and then
   * at most once per interval. True when it logged. A function as message is called only
   * when a line is written: a failure per record builds no string.
   */
  failure(message: string | (() => string), fields?: object): boolean {
    this.streak++;
    const now = Date.now();
    if (this.streak > 1 && now - this.lastLine < this.intervalMs) {
      this.unreported++;
      return false;
    }
    if (typeof message === 'function') message = message();
    if (this.streak === 1) this.log[this.level](fields ?? {}, message);
    else this.log[this.level]({ ...fields, failures: this.streak }, `${message} (${this.unreported + 1} times since the last report, ${this.streak} in all)`);
    this.unreported = 0;
    this.lastLine = now;
    return true;
  }

  /** The streak ended: logs `message` once with the streak's count; nothing when there was no failure. */
  recovered(message: string, fields?: object): void {
    if (this.streak === 0) return;
    this.log.info({ ...fields, failures: this.streak }, `${message} (after ${this.streak} failure${this.streak === 1 ? '' : 's'})`);
    this.streak = this.unreported = 0;
  }
}
