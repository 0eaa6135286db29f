/**
 * Append-only file writer shared by the file outputs (LOGEMU, OPRINT, JSON, ...).
 *
 * - One write in flight at a time; chunks queued meanwhile go out together in one writev.
 * - The queue is bounded (maxBytes); what does not fit is counted as dropped.
 * - Write errors (ENOSPC, EACCES, a vanished disk) are logged once per streak, the events
 *   of the failed write are counted as dropped, and the file is reopened on the next write.
 * - reopen() (SIGHUP) finishes the pending writes, then opens the path anew.
 * - `stdout` and `stderr` as path write to the daemon's own streams.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import type { Counters } from './counters.js';

export interface FileSinkOptions {
  path: string;
  counters: Counters;
  log: Logger;
  /** Queue limit in bytes (default 64 MiB). */
  maxBytes?: number;
  /** File mode for a new file. */
  mode?: number;
  /** Called before the file is (re)opened, e.g. to move aside a file that cannot be appended to. */
  beforeOpen?: (path: string) => void;
  /** Called after the file is (re)opened, with its size; may return bytes to write first (a file header). */
  onOpen?: (size: number) => Buffer | undefined;
}

const MAX_WRITE = 4 * 1024 * 1024;

export class FileSink {
  private fd = -1;
  private chunks: Buffer[] = [];
  private chunkEvents: number[] = [];
  private queuedBytes = 0;
  private writing = false;
  private failing: string | null = null;
  private waiters: Array<() => void> = [];
  private readonly maxBytes: number;
  /** Told about each chunk once it is written or dropped, so its memory can be reused. */
  recycle: ((chunk: Buffer) => void) | null = null;

  constructor(private readonly opts: FileSinkOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
  }

  get path(): string {
    return this.opts.path;
  }

  /** Opens the file; throws with a clear message if it cannot (start-up errors are fatal). */
  open(): void {
    this.fd = this.openFd();
  }

  /** Queues a chunk holding `events` records; never blocks. Returns false if it was dropped. */
  write(buf: Buffer, events: number): boolean {
    // A chunk larger than the whole limit still goes when nothing waits before it.
    if (this.queuedBytes > 0 && this.queuedBytes + buf.length > this.maxBytes) {
      this.opts.counters.dropped += events;
      this.recycle?.(buf);
      return false;
    }
    this.chunks.push(buf);
    this.chunkEvents.push(events);
    this.queuedBytes += buf.length;
    if (!this.writing) this.pump();
    return true;
  }

  /** More than half of the queue limit waits: the disk is slower than the traffic. */
  get busy(): boolean {
    return this.queuedBytes * 2 > this.maxBytes;
  }

  /** Resolves when every queued chunk is written or counted as dropped. */
  flush(): Promise<void> {
    if (!this.writing && this.chunks.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  async reopen(): Promise<void> {
    await this.flush();
    this.closeFd();
    try {
      this.fd = this.openFd();
    } catch (err) {
      this.reportError(err as NodeJS.ErrnoException);
    }
  }

  /** Finishes the pending writes, renames the file to `to` and starts a new one (rotation). */
  async rotate(to: string): Promise<void> {
    await this.flush();
    this.closeFd();
    try {
      fs.renameSync(this.opts.path, to);
      this.fd = this.openFd();
    } catch (err) {
      this.reportError(err as NodeJS.ErrnoException);
    }
  }

  async close(): Promise<void> {
    await this.flush();
    this.closeFd();
  }

  private openFd(): number {
    const p = this.opts.path;
    if (p === 'stdout') return 1;
    if (p === 'stderr') return 2;
    this.opts.beforeOpen?.(p);
    const fd = fs.openSync(p, 'a', this.opts.mode ?? 0o640);
    const header = this.opts.onOpen?.(fs.fstatSync(fd).size);
    if (header) fs.writeSync(fd, header);
    return fd;
  }

  private closeFd(): void {
    if (this.fd > 2) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private pump(): void {
    if (this.chunks.length === 0) {
      this.writing = false;
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
      return;
    }
    this.writing = true;
    // At most MAX_WRITE bytes per write: what waits behind it stays within maxBytes, so
    // queued plus in-flight memory is bounded by maxBytes + MAX_WRITE, not twice maxBytes.
    let n = 0;
    let bytes = 0;
    while (n < this.chunks.length && (n === 0 || bytes + this.chunks[n].length <= MAX_WRITE)) bytes += this.chunks[n++].length;
    const chunks = this.chunks.splice(0, n);
    const events = this.chunkEvents.splice(0, n).reduce((a, b) => a + b, 0);
    this.queuedBytes -= bytes;
    const settled = (err: NodeJS.ErrnoException | null) => {
      if (this.recycle) for (const c of chunks) this.recycle(c);
      if (err) {
        this.fail(err, events);
        return;
      }
      if (this.failing) {
        this.opts.log.info({ file: this.opts.path }, `writing to ${this.opts.path} works again`);
        this.failing = null;
      }
      this.opts.counters.sent += events;
      this.pump();
    };
    if (this.fd < 0) {
      try {
        this.fd = this.openFd();
      } catch (err) {
        settled(err as NodeJS.ErrnoException);
        return;
      }
    }
    writeAll(this.fd, chunks, settled);
  }

  private fail(err: NodeJS.ErrnoException, events: number): void {
    this.opts.counters.dropped += events;
    this.reportError(err);
    // Reopen on the next write: the path may be fixed (space freed, permissions restored).
    this.closeFd();
    this.pump();
  }

  private reportError(err: NodeJS.ErrnoException): void {
    this.opts.counters.errors++;
    const code = err.code ?? err.message;
    if (this.failing !== code) {
      this.failing = code;
      this.opts.log.error({ file: this.opts.path, code }, `cannot write ${this.opts.path}: ${err.message}; dropping records until it works again`);
    }
  }
}

/** writev that retries short writes. */
function writeAll(fd: number, chunks: Buffer[], done: (err: NodeJS.ErrnoException | null) => void): void {
  fs.writev(fd, chunks, (err, written) => {
    if (err) return done(err);
    let left = written;
    let i = 0;
    while (i < chunks.length && left >= chunks[i].length) left -= chunks[i++].length;
    if (i === chunks.length) return done(null);
    const rest = chunks.slice(i);
    rest[0] = rest[0].subarray(left);
    writeAll(fd, rest, done);
  });
}
