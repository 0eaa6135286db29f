/**
 * The generic part of an output that sends to a destination which may go
 * away (a server, a broker, a database): a bounded queue, one connection
 * opened and reopened with exponential back-off, batches sent one after the
 * other, failures reported at the start and end of a streak, and the counter
 * and commit rules of the output contract kept. The output supplies a Link:
 * how to open a connection, send a batch on it and close it.
 *
 * - `push(item, bytes, events)` queues an item holding `events` records; when
 *   the queued bytes would pass `maxBytes`, the item is dropped and counted.
 * - A batch whose send() rejects is an error; the connection is closed and the
 *   batch sent again on the next one (at least once), or dropped with
 *   `dropFailed` (best effort, datagrams).
 * - `close()` never waits for the destination: what is queued or on its way is
 *   counted as dropped and settled.
 */
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';
import { CommitQueue } from './commit-queue.js';
import type { Counters } from './counters.js';
import { ErrorReporter } from './error-reporter.js';

export interface Link<C, T> {
  /** The destination, for log lines: "tcp:collector:4739", "nats://broker:4222". */
  readonly describe: string;
  /** Opens a connection; rejects when it cannot. */
  open(): Promise<C>;
  /** Sends a batch; resolves once the destination took it, rejects when the connection failed. */
  send(conn: C, items: readonly T[]): Promise<void>;
  /** Releases a connection, failed or not; must not wait for the destination. */
  close(conn: C): void;
}

export interface ReconnectingSinkOptions<C, T> {
  link: Link<C, T>;
  /** Bytes queued (waiting or on their way) at most. */
  maxBytes: number;
  counters: Counters;
  log: Logger;
  /** The output's ctx.commit. */
  commit: (n: number) => void;
  /** Items per send() at most (default 1000). */
  batch?: number;
  /** Retry delays (default 100 ms doubling to 5 s). */
  backoff?: Backoff;
  /** A failed batch is dropped instead of sent again on the next connection. */
  dropFailed?: boolean;
}

interface Entry<T> {
  item: T;
  bytes: number;
  events: number;
  ticket: number;
}

export class ReconnectingSink<C, T> {
  private queue: Entry<T>[] = [];
  private queuedBytes = 0;
  private conn: C | null = null;
  private pumping = false;
  private closing = false;
  private timer: NodeJS.Timeout | null = null;
  private wake: (() => void) | null = null;
  private waiters: Array<() => void> = [];
  private readonly commits: CommitQueue;
  private readonly backoff: Backoff;
  private readonly failures: ErrorReporter;
  private readonly drops: ErrorReporter;
  private readonly dropLine = () => `queue for ${this.opts.link.describe} is full: dropping records (${this.opts.counters.dropped} so far)`;
  private readonly batch: number;

  constructor(private readonly opts: ReconnectingSinkOptions<C, T>) {
    this.commits = new CommitQueue(opts.commit);
    this.backoff = opts.backoff ?? new Backoff();
    this.failures = new ErrorReporter(opts.log);
    this.drops = new ErrorReporter(opts.log, { level: 'warn' });
    this.batch = opts.batch ?? 1000;
  }

  /** Bytes queued, waiting or on their way. */
  get bufferedBytes(): number {
    return this.queuedBytes;
  }

  /** More than half of the limit is queued: the destination is slower than the traffic. */
  get busy(): boolean {
    return this.queuedBytes * 2 > this.opts.maxBytes;
  }

  /** Queues an item of `events` records; false when it did not fit (counted as dropped). */
  push(item: T, bytes: number, events = 1): boolean {
    // An item larger than the whole limit still goes when nothing waits before it.
    if (this.closing || (this.queuedBytes > 0 && this.queuedBytes + bytes > this.opts.maxBytes)) {
      this.opts.counters.dropped += events;
      this.drops.failure(this.dropLine);
      this.commits.now(events);
      return false;
    }
    this.queue.push({ item, bytes, events, ticket: this.commits.hold(events) });
    this.queuedBytes += bytes;
    void this.pump();
    return true;
  }

  /** Resolves once everything queued is sent, or after `maxMs` (the destination may be away). */
  flush(maxMs = 5000): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(done, maxMs);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.waiters.push(done);
    });
  }

  /** Counts what is left as dropped, settles it and closes the connection; never waits. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake?.();
    const left = this.queue.reduce((n, e) => n + e.events, 0);
    if (left > 0) {
      this.opts.counters.dropped += left;
      this.opts.log.warn(`${left} records for ${this.opts.link.describe} could not be delivered before exit`);
    }
    this.queue = [];
    this.queuedBytes = 0;
    this.commits.settleAll();
    if (this.conn !== null) this.opts.link.close(this.conn);
    this.conn = null;
    this.settled();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    while (this.queue.length > 0 && !this.closing) {
      if (this.conn === null) {
        try {
          this.conn = await this.opts.link.open();
        } catch (err) {
          this.failed(err, 'cannot connect');
          await this.pause();
          continue;
        }
        if (this.closing) break;
      }
      const taken = this.queue.slice(0, this.batch);
      try {
        await this.opts.link.send(
          this.conn,
          taken.map((e) => e.item),
        );
      } catch (err) {
        if (this.closing) break;
        this.failed(err, 'send failed');
        if (this.conn !== null) this.opts.link.close(this.conn);
        this.conn = null;
        if (this.opts.dropFailed) this.take(taken, false);
        await this.pause();
        continue;
      }
      if (this.closing) break; // close() counted the batch as dropped already
      this.take(taken, true);
      this.backoff.reset();
      this.failures.recovered(`${this.opts.link.describe} works again`);
    }
    this.pumping = false;
    if (this.queue.length === 0) this.settled();
  }

  /** The head batch left the queue: sent, or dropped after a failure. */
  private take(taken: Entry<T>[], sent: boolean): void {
    this.queue.splice(0, taken.length);
    for (const e of taken) {
      this.queuedBytes -= e.bytes;
      if (sent) this.opts.counters.sent += e.events;
      else this.opts.counters.dropped += e.events;
      this.commits.settle(e.ticket);
    }
  }

  private failed(err: unknown, what: string): void {
    this.opts.counters.errors++;
    this.failures.failure(`${this.opts.link.describe}: ${what}: ${(err as Error)?.message ?? String(err)}; ${this.queue.length} queued, retrying`);
  }

  /** Waits the back-off delay, or until close(). */
  private pause(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = null;
        this.timer = null;
        resolve();
      };
      this.timer = setTimeout(this.wake, this.backoff.next());
    });
  }

  private settled(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}
