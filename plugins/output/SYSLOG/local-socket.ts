/**
 * The local syslog socket (/dev/log): a Unix datagram socket. Messages wait
 * in a bounded queue while the socket is absent or full and are retried with
 * back-off; what does not fit is counted as dropped. Messages are committed,
 * oldest first, once the socket took them or they were dropped.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import type { Logger } from 'pino';
import { Backoff, CommitQueue, type Counters, ErrorReporter } from 'specter/plugin';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error & { errno?: number }) => void): void;
  on(event: 'error', fn: (...args: unknown[]) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };

/** The receiver's queue is full (EAGAIN, ENOBUFS): not a failure, the next try comes this soon. */
const FULL_RETRY_MS = 5;
const FULL = new Set([-os.constants.errno.EAGAIN, -os.constants.errno.ENOBUFS]);

export class LocalSyslog {
  private sock: DgramSocket | null = null;
  private queue: Buffer[] = [];
  /** The commit ticket of each queued message. */
  private tickets: number[] = [];
  private readonly commits: CommitQueue;
  private queued = 0;
  private readonly backoff = new Backoff();
  private timer: NodeJS.Timeout | null = null;
  private readonly failures: ErrorReporter;
  private readonly drops: ErrorReporter;
  private readonly dropLine = () => `syslog buffer full (${this.path} unavailable): dropping messages (${this.counters.dropped} so far)`;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly path: string,
    private readonly maxBytes: number,
    private readonly counters: Counters,
    private readonly log: Logger,
    commit: (n: number) => void,
  ) {
    this.commits = new CommitQueue(commit);
    this.failures = new ErrorReporter(log);
    this.drops = new ErrorReporter(log, { level: 'warn' });
  }

  start(): void {
    this.sock = unixDgram.createSocket('unix_dgram');
    this.sock.on('error', () => undefined); // send errors arrive through the callbacks
  }

  send(msg: Buffer): void {
    if (this.queued + msg.length > this.maxBytes) {
      this.counters.dropped++;
      this.drops.failure(this.dropLine);
      this.commits.now(1);
      return;
    }
    this.queue.push(msg);
    this.tickets.push(this.commits.hold(1));
    this.queued += msg.length;
  }

  drain(): void {
    while (this.queue.length && !this.timer && this.sock) {
      const msg = this.queue[0];
      let failure: (Error & { errno?: number }) | undefined;
      let full = false;
      // The callback runs before send() returns.
      this.sock.send(msg, 0, msg.length, this.path, (err) => {
        if (err && FULL.has(err.errno ?? 0)) full = true;
        else failure = err;
      });
      if (full) {
        // The syslog daemon is behind: the message waits here, without an error or back-off.
        this.timer = setTimeout(() => {
          this.timer = null;
          this.drain();
        }, FULL_RETRY_MS);
        return;
      }
      if (failure) {
        this.retryLater(failure);
        return;
      }
      this.queue.shift();
      this.queued -= msg.length;
      this.counters.sent++;
      this.commits.settle(this.tickets.shift()!);
      if (this.failures.failing) {
        this.failures.recovered(`syslog socket ${this.path} works again`);
        this.backoff.reset();
      }
    }
    if (this.queue.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }

  /**
   * Resolves once the socket took every message; after `ms` without that, what is still
   * queued is given up (counted as dropped, one line): flush ends with every record settled.
   */
  flush(ms = 3000): Promise<void> {
    this.drain();
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.giveUp(`within ${ms / 1000} s`);
        resolve();
      }, ms);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** Sends what the socket takes now and counts the rest as dropped: never waits (the shutdown deadline). */
  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.drain();
    this.giveUp('before exit');
    this.sock?.close();
    this.sock = null;
  }

  private giveUp(when: string): void {
    if (this.queue.length) {
      this.counters.dropped += this.queue.length;
      this.log.warn(`${this.queue.length} syslog messages could not be delivered to ${this.path} ${when}`);
      this.queue = [];
      this.tickets = [];
      this.queued = 0;
    }
    this.commits.settleAll();
  }

  private retryLater(err: Error): void {
    this.counters.errors++;
    this.failures.failure(`syslog socket ${this.path}: ${err.message}; buffering and retrying`);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.drain();
    }, this.backoff.next());
  }
}
