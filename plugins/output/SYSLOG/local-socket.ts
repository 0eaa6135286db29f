/**
 * The local syslog socket (/dev/log): a Unix datagram socket. Messages wait
 * in a bounded queue while the socket is absent or full and are retried with
 * back-off; what does not fit is counted as dropped.
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { Counters } from '../../../src/core/counters.js';

interface DgramSocket {
  send(buf: Buffer, offset: number, length: number, path: string, cb: (err?: Error & { code?: number }) => void): void;
  on(event: 'writable' | 'error', fn: (...args: unknown[]) => void): void;
  close(): void;
}

const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram'): DgramSocket };

const MIN_BACKOFF = 100;
const MAX_BACKOFF = 5000;

export class LocalSyslog {
  private sock: DgramSocket | null = null;
  private queue: Buffer[] = [];
  private queued = 0;
  private blocked = false;
  private backoff = MIN_BACKOFF;
  private timer: NodeJS.Timeout | null = null;
  private failing: string | null = null;
  private waiters: Array<() => void> = [];

  constructor(private readonly path: string, private readonly maxBytes: number, private readonly counters: Counters, private readonly log: Logger) {}

  start(): void {
    this.sock = unixDgram.createSocket('unix_dgram');
    this.sock.on('writable', () => { this.blocked = false; this.drain(); });
    this.sock.on('error', () => undefined); // send errors arrive through the callbacks
  }

  send(msg: Buffer): void {
    if (this.queued + msg.length > this.maxBytes) {
      this.counters.dropped++;
      if (this.counters.dropped % 10000 === 1) this.log.warn({ dropped: this.counters.dropped }, `syslog buffer full (${this.path} unavailable): dropping messages`);
      return;
    }
    this.queue.push(msg);
    this.queued += msg.length;
  }

  drain(): void {
    while (this.queue.length && !this.blocked && !this.timer && this.sock) {
      const msg = this.queue[0];
      let failure: (Error & { code?: number }) | undefined;
      let congested = false;
      this.sock.send(msg, 0, msg.length, this.path, (err) => {
        if (err && err.message.includes('congestion')) congested = true;
        else failure = err;
      });
      if (congested) {
        // EAGAIN: the receiver is full; wait until the socket is writable.
        this.blocked = true;
        return;
      }
      if (failure) {
        this.retryLater(failure);
        return;
      }
      this.queue.shift();
      this.queued -= msg.length;
      this.counters.sent++;
      if (this.failing) {
        this.log.info(`syslog socket ${this.path} works again`);
        this.failing = null;
      }
      this.backoff = MIN_BACKOFF;
    }
    if (this.queue.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }

  flush(ms = 3000): Promise<void> {
    this.drain();
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  async close(): Promise<void> {
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    if (this.queue.length) {
      this.counters.dropped += this.queue.length;
      this.log.warn(`${this.queue.length} syslog messages could not be delivered to ${this.path} before exit`);
    }
    this.sock?.close();
    this.sock = null;
  }

  private retryLater(err: Error & { code?: number }): void {
    this.counters.errors++;
    const what = err.message;
    if (this.failing !== what) {
      this.failing = what;
      this.log.error(`syslog socket ${this.path}: ${what}; buffering and retrying`);
    }
    this.timer = setTimeout(() => { this.timer = null; this.drain(); }, this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
  }
}
