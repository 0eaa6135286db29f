/**
 * Rows that wait on disk, oldest first, as a list of segment files in the
 * spool directory: the overflow of this run (rows beyond the memory queue
 * while the database is away or behind), the rows saved at exit, and every
 * segment an earlier run left, including after kill -9. A segment is read
 * back into memory in order and removed once every row read from it is
 * committed or counted; commit markers carry its id and offset so a replay
 * never writes a row twice (see sql-output.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import { encodeRow } from './row-codec.js';
import { LINE_OVERHEAD, Segment, syncDir, type ReadResult, type Skip } from './segment.js';

/** Lines gathered before a write: a burst costs a write per batch of packets, not per row. */
const WRITE_AT = 256 * 1024;
/** The overflow file is flushed to the disk at most this often while rows go there. */
const SYNC_EVERY_MS = 1000;

export class DiskQueue {
  readonly segments: Segment[] = [];
  /** Segment files whose header could not be read (left in place, renamed *.bad). */
  unreadable: string[] = [];
  lastError = '';
  /** Rows accepted by push() that a write error lost; the owner counts them and resets this. */
  lost = 0;
  private writer: Segment | null = null;
  private seq = 0;
  private lastSync = 0;

  constructor(
    readonly dir: string,
    private readonly base: string,
    private readonly keys: readonly string[],
    private readonly maxBytes: number,
  ) {}

  /** Segments an earlier run left, oldest first (the spool file of versions before segments too). */
  load(): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.dir);
    } catch {
      return;
    }
    const mine = names.filter((n) => n === `${this.base}.spool` || (n.startsWith(`${this.base}.`) && n.endsWith('.rows'))).sort();
    for (const n of mine) {
      const file = path.join(this.dir, n);
      const seg = Segment.open(file, this.keys);
      if (seg) this.segments.push(seg);
      else {
        this.unreadable.push(file);
        try {
          fs.renameSync(file, `${file}.bad`);
        } catch {
          /* left as it is; counted once per start */
        }
      }
    }
  }

  /** Bytes of every segment, written or about to be. */
  get bytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.bytes;
    return n;
  }

  /** Rows on disk not yet read into memory. */
  get unread(): boolean {
    for (const s of this.segments) if (s.unread) return true;
    return false;
  }

  /** Every segment left by an earlier run has been checked against the markers in the database. */
  get resolved(): boolean {
    for (const s of this.segments) if (!s.resolved) return false;
    return true;
  }

  /** Whether a row of `bytes` still fits under the size limit. */
  fits(bytes: number): boolean {
    return this.bytes + bytes <= this.maxBytes;
  }

  /** Queues a row at the end; false when it would pass the size limit or no file can be made. */
  push(row: readonly unknown[]): boolean {
    const json = JSON.stringify(encodeRow(row));
    if (!this.fits(json.length + LINE_OVERHEAD)) return false;
    if (!this.writer) {
      try {
        this.writer = Segment.create(this.nextName(), this.keys);
      } catch (err) {
        this.lastError = (err as Error).message;
        return false;
      }
      this.segments.push(this.writer);
      this.trySyncDir();
    }
    this.writer.append(json);
    if (this.writer.bytes - this.writer.size >= WRITE_AT) this.writeOut();
    return true;
  }

  /** Writes gathered rows; rows a write error loses are added to `lost` (see lastError). */
  writeOut(): void {
    const w = this.writer;
    if (!w) return;
    this.lost += w.writeOut((err) => {
      this.lastError = err.message;
    });
    if (Date.now() - this.lastSync >= SYNC_EVERY_MS) {
      this.lastSync = Date.now();
      try {
        w.sync();
      } catch (err) {
        this.lastError = (err as Error).message;
      }
    }
  }

  /** Reads up to `max` rows from the oldest segment with unread rows. */
  read(max: number): { seg: Segment; got: ReadResult } | null {
    this.writeOut();
    for (const seg of this.segments) {
      if (!seg.resolved) return null; // never past a segment whose progress is not known yet
      if (!seg.unread) continue;
      const got = seg.read(max);
      seg.outstanding += got.rows.length;
      // Read to the end: rows from now on go to a new segment, so this one can go once committed.
      if (seg === this.writer && !seg.unread) this.seal();
      return { seg, got };
    }
    return null;
  }

  /** A segment whose rows are all read and accounted for is removed (durably: a replay must not find it again). */
  release(seg: Segment, rows: number): boolean {
    seg.outstanding -= rows;
    if (seg.outstanding > 0 || seg.unread || seg.writable) return false;
    try {
      seg.remove();
    } catch (err) {
      this.lastError = (err as Error).message;
      return false; // stays, inert: its markers stay too, so a replay skips what it holds
    }
    this.segments.splice(this.segments.indexOf(seg), 1);
    this.trySyncDir();
    return true;
  }

  /** Saves rows at exit in a new segment (written, flushed, then renamed into place); returns how many fit. */
  save(rows: readonly unknown[][], skip: Skip | null): number {
    let room = this.maxBytes - this.bytes;
    const lines: string[] = [];
    for (const r of rows) {
      const json = JSON.stringify(encodeRow(r));
      if (json.length + LINE_OVERHEAD > room) break;
      room -= json.length + LINE_OVERHEAD;
      lines.push(json);
    }
    if (!lines.length) return 0;
    const final = this.nextName();
    const tmp = `${final}.tmp`;
    const seg = Segment.create(tmp, this.keys, skip);
    try {
      for (const l of lines) seg.append(l);
      seg.writeOut((err) => {
        throw err;
      });
      seg.sync();
      seg.close();
      fs.renameSync(tmp, final);
    } catch (err) {
      seg.remove();
      throw err;
    }
    syncDir(this.dir);
    return lines.length;
  }

  /** At exit: the overflow file is flushed and everything closed; files stay for the next start. */
  close(): void {
    if (this.writer) this.seal();
    for (const s of this.segments) s.close();
  }

  /** Stops appending to the overflow segment (read to its end, or at exit). */
  private seal(): void {
    const w = this.writer!;
    this.writer = null;
    w.writeOut((err) => {
      this.lastError = err.message;
    });
    try {
      w.seal();
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  private trySyncDir(): void {
    try {
      syncDir(this.dir);
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }

  /** Names sort in creation order, also across runs. */
  private nextName(): string {
    const stamp = Date.now().toString().padStart(14, '0');
    return path.join(this.dir, `${this.base}.${stamp}-${String(++this.seq).padStart(6, '0')}.rows`);
  }
}
