/**
 * Append-only file writer shared by the file outputs (LOGEMU, OPRINT, JSON, PCAP).
 *
 * - One write in flight at a time; chunks queued meanwhile go out together in one writev.
 * - The queue is bounded (maxBytes, passed at most by the one chunk that makes it busy); what does not fit is counted as dropped.
 * - A write the disk takes only in part (ENOSPC) is cut back to the end of the last whole
 *   chunk, so the file never ends in half a record; the chunks not in the file are counted
 *   as dropped, the error is logged when the streak starts and then at most once a minute,
 *   and the next write tries again.
 * - reopen() (SIGHUP) and rotate() switch files between two writes, without waiting for the
 *   queue to empty. If the new file cannot be opened, the old descriptor is kept and written
 *   to, the failure is logged in one line, and the next reopen or rotation tries again.
 * - A file deleted under us (st_nlink 0, checked before each write) is opened anew at its path.
 * - Files created while root with `-u USER` belong to USER, who can reopen them after the drop.
 * - `stdout` and `stderr` as path write to the daemon's own streams.
 * - Records are committed (opts.commit), oldest first, once written or counted as dropped.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { openAppend } from '../privileges.js';
import { CommitQueue } from './commit-queue.js';
import type { Counters } from './counters.js';
import { ErrorReporter } from './error-reporter.js';

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
  /**
   * Called after the file is (re)opened, with its size and whether a rotation opened it;
   * may return bytes to write first (a file header).
   */
  onOpen?: (size: number, rotated: boolean) => Buffer | undefined;
  /** The output's ctx.commit: told, in order, about records written or dropped. */
  commit?: (n: number) => void;
}

const MAX_WRITE = 4 * 1024 * 1024;
/** After a deleted file could not be opened anew, the next try waits this long. */
const DELETED_RETRY_MS = 1000;

/** A change of file placed between two chunks of the queue. */
interface Switch {
  /** Sequence number of the first chunk that goes to the new file. */
  at: number;
  /** Rotation: gives the name the current file is renamed to, asked when the switch happens. */
  renameTo: (() => string) | null;
  done: Promise<void>;
  resolve: () => void;
}

export class FileSink {
  private fd = -1;
  private chunks: Buffer[] = [];
  private chunkEvents: number[] = [];
  private chunkTickets: number[] = [];
  private readonly commits: CommitQueue;
  private queuedBytes = 0;
  /** Chunks taken from the queue so far: the sequence number of the queue's first chunk. */
  private taken = 0;
  private switches: Switch[] = [];
  private writing = false;
  /** Failed writes, and failed reopens and rotations: a line when each streak starts and ends. */
  private readonly writeErrors: ErrorReporter;
  private readonly switchErrors: ErrorReporter;
  private nextLinkCheck = 0;
  private waiters: Array<() => void> = [];
  private readonly maxBytes: number;
  /** Told about each chunk once it is written or dropped, so its memory can be reused. */
  recycle: ((chunk: Buffer) => void) | null = null;

  constructor(private readonly opts: FileSinkOptions) {
    this.maxBytes = opts.maxBytes ?? 64 * 1024 * 1024;
    this.commits = new CommitQueue(opts.commit ?? (() => {}));
    this.writeErrors = new ErrorReporter(opts.log);
    this.switchErrors = new ErrorReporter(opts.log);
  }

  get path(): string {
    return this.opts.path;
  }

  /** Bytes queued and not yet handed to a write. */
  get queued(): number {
    return this.queuedBytes;
  }

  /** Opens the file; throws with a clear message if it cannot (start-up errors are fatal). */
  open(): void {
    this.fd = this.openFd();
  }

  /** Queues a chunk holding `events` records; never blocks. Returns false if it was dropped. */
  write(buf: Buffer, events: number): boolean {
    // Refused only past the limit while busy: a source pauses when the sink is busy, so the
    // chunk that makes it busy, however large (a 128 KiB datagram of small packets makes
    // over half a MiB of JSON), is kept; the queue may pass the limit by that chunk.
    if (this.busy && this.queuedBytes + buf.length > this.maxBytes) {
      this.opts.counters.dropped += events;
      this.commits.now(events);
      this.recycle?.(buf);
      return false;
    }
    this.chunks.push(buf);
    this.chunkEvents.push(events);
    this.chunkTickets.push(this.commits.hold(events));
    this.queuedBytes += buf.length;
    if (!this.writing) this.pump();
    return true;
  }

  /** n records that have no bytes here (left out by the output) settle after what is queued now. */
  settle(n: number): void {
    this.commits.now(n);
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

  /**
   * Opens the path anew after the write in flight (SIGHUP, logrotate); what is queued goes
   * to the new file. Resolves once switched, or once the failure is logged.
   */
  reopen(): Promise<void> {
    const head = this.switches[0];
    if (head?.at === this.taken) return head.done;
    return this.addSwitch(this.taken, null);
  }

  /**
   * Rotation: once what is queued now is written, renames the file to `renameTo()` and
   * starts a new one. Resolves once switched, or once the failure is logged.
   */
  rotate(renameTo: () => string): Promise<void> {
    return this.addSwitch(this.taken + this.chunks.length, renameTo);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closeFd();
  }

  private addSwitch(at: number, renameTo: (() => string) | null): Promise<void> {
    let resolve!: () => void;
    const done = new Promise<void>((r) => {
      resolve = r;
    });
    let i = this.switches.length;
    while (i > 0 && this.switches[i - 1].at > at) i--;
    this.switches.splice(i, 0, { at, renameTo, done, resolve });
    if (!this.writing) this.pump();
    return done;
  }

  private openFd(rotated = false): number {
    const p = this.opts.path;
    if (p === 'stdout') return 1;
    if (p === 'stderr') return 2;
    this.opts.beforeOpen?.(p);
    const fd = openAppend(p, this.opts.mode ?? 0o640);
    try {
      const header = this.opts.onOpen?.(fs.fstatSync(fd).size, rotated);
      if (header) fs.writeSync(fd, header);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return fd;
  }

  private closeFd(): void {
    if (this.fd > 2) fs.closeSync(this.fd);
    this.fd = -1;
  }

  /**
   * Opens the path anew (renaming the current file first when rotating) and closes the old
   * descriptor; if that fails, the old descriptor stays and the failure is logged.
   */
  private replaceFd(renameTo: (() => string) | null, retry: string): boolean {
    if (this.fd >= 0 && this.fd <= 2) return true; // stdout, stderr
    let fd: number;
    try {
      if (renameTo) fs.renameSync(this.opts.path, renameTo());
      fd = this.openFd(renameTo !== null);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      this.opts.counters.errors++;
      // Rate-limited: a rotation retried every few batches must not fill the log.
      const what = renameTo ? 'rotate' : 'reopen';
      this.switchErrors.failure(`cannot ${what} ${this.opts.path}: ${e.message}; still writing to the previous file, trying again ${retry}`, {
        file: this.opts.path,
        code: e.code ?? e.message,
      });
      return false;
    }
    this.switchErrors.recovered(`${this.opts.path} opened again`, { file: this.opts.path });
    this.closeFd();
    this.fd = fd;
    return true;
  }

  /** A file deleted while open takes writes that no one can read: open its path anew. */
  private reopenIfDeleted(): void {
    if (this.fd <= 2 || Date.now() < this.nextLinkCheck) return;
    let nlink: number;
    try {
      nlink = fs.fstatSync(this.fd).nlink;
    } catch {
      return;
    }
    if (nlink > 0) return;
    if (this.replaceFd(null, 'in a second')) {
      this.opts.log.warn({ file: this.opts.path }, `${this.opts.path} was deleted; writing to a new file of that name`);
    } else {
      this.nextLinkCheck = Date.now() + DELETED_RETRY_MS;
    }
  }

  private pump(): void {
    while (this.switches.length > 0 && this.switches[0].at === this.taken) {
      const sw = this.switches.shift()!;
      this.replaceFd(sw.renameTo, sw.renameTo ? 'at the next rotation' : 'at the next SIGHUP');
      sw.resolve();
    }
    if (this.chunks.length === 0) {
      this.writing = false;
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
      return;
    }
    this.writing = true;
    this.reopenIfDeleted();
    // At most MAX_WRITE bytes per write: what waits behind it stays within maxBytes, so
    // queued plus in-flight memory is bounded by maxBytes + MAX_WRITE, not twice maxBytes.
    // A pending switch ends the write at its chunk.
    const limit = this.switches.length > 0 ? this.switches[0].at - this.taken : this.chunks.length;
    let n = 0;
    let bytes = 0;
    while (n < limit && (n === 0 || bytes + this.chunks[n].length <= MAX_WRITE)) bytes += this.chunks[n++].length;
    const chunks = this.chunks.splice(0, n);
    const events = this.chunkEvents.splice(0, n);
    const tickets = this.chunkTickets.splice(0, n);
    this.queuedBytes -= bytes;
    this.taken += n;
    const fd = this.fd;
    writeAll(fd, chunks, (err, written) => {
      if (err) {
        this.fail(err, fd, chunks, events, written);
      } else {
        if (this.writeErrors.failing) this.writeErrors.recovered(`writing to ${this.opts.path} works again`, { file: this.opts.path });
        for (const e of events) this.opts.counters.sent += e;
      }
      for (const t of tickets) this.commits.settle(t);
      if (this.recycle) for (const c of chunks) this.recycle(c);
      this.pump();
    });
  }

  /**
   * A write failed after `written` bytes: whole chunks stay and count as sent, a chunk
   * written in part is cut off the file, and it and the rest count as dropped.
   */
  private fail(err: NodeJS.ErrnoException, fd: number, chunks: Buffer[], events: number[], written: number): void {
    let whole = 0;
    let i = 0;
    while (i < chunks.length && whole + chunks[i].length <= written) whole += chunks[i++].length;
    if (written > whole) {
      try {
        fs.ftruncateSync(fd, fs.fstatSync(fd).size - (written - whole));
      } catch {
        // not a regular file (a pipe): nothing to cut back
      }
    }
    for (let k = 0; k < events.length; k++) {
      if (k < i) this.opts.counters.sent += events[k];
      else this.opts.counters.dropped += events[k];
    }
    this.opts.counters.errors++;
    this.writeErrors.failure(`cannot write ${this.opts.path}: ${err.message}; dropping records until it works again`, {
      file: this.opts.path,
      code: err.code ?? err.message,
    });
  }
}

/** writev that retries short writes; reports the bytes written before an error. */
function writeAll(fd: number, chunks: Buffer[], done: (err: NodeJS.ErrnoException | null, written: number) => void, before = 0): void {
  fs.writev(fd, chunks, (err, written) => {
    if (err) return done(err, before);
    let left = written;
    let i = 0;
    while (i < chunks.length && left >= chunks[i].length) left -= chunks[i++].length;
    if (i === chunks.length) return done(null, before + written);
    const rest = chunks.slice(i);
    rest[0] = rest[0].subarray(left);
    writeAll(fd, rest, done, before + written);
  });
}
