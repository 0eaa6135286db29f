/**
 * Rows beyond the memory queue while the database is away: appended to a
 * file (one JSON line each, like the spool file) and read back in order once
 * the queue has room again. The file is emptied when everything was read.
 * Lines are gathered and written once per batch of packets, or 256 KiB at a
 * time: a burst that overflows costs a write per batch, not one per row.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeRow, encodeRow } from './spool.js';

const CHUNK = 1 << 20;
const WRITE_AT = 256 * 1024;

export class OverflowFile {
  private fd = -1;
  private writePos = 0;
  private readPos = 0;
  private pending = '';
  private unwritten: string[] = [];
  private unwrittenBytes = 0;
  count = 0;
  /** Rows lost because the file could not be written (a full disk); the owner counts and resets it. */
  lost = 0;
  lastError = '';

  constructor(readonly file: string, private readonly maxBytes: number) {}

  /** Appends a row; false when the file is at its size limit. */
  push(row: unknown[]): boolean {
    const line = JSON.stringify(encodeRow(row)) + '\n';
    if (this.writePos + this.unwrittenBytes + line.length > this.maxBytes) return false;
    this.unwritten.push(line);
    this.unwrittenBytes += line.length;
    this.count++;
    if (this.unwrittenBytes >= WRITE_AT) this.writeOut();
    return true;
  }

  /** Writes the gathered lines out (at the end of each batch of packets, and when 256 KiB are gathered). */
  writeOut(): void {
    if (!this.unwritten.length) return;
    if (this.fd < 0) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = fs.openSync(this.file, 'w+', 0o600);
    }
    const rows = this.unwritten.length;
    const b = Buffer.from(this.unwritten.join(''));
    this.unwritten = [];
    this.unwrittenBytes = 0;
    try {
      for (let off = 0; off < b.length;) off += fs.writeSync(this.fd, b, off, b.length - off, this.writePos + off);
      this.writePos += b.length;
    } catch (err) {
      // Whatever part was written is overwritten by the next write at the same position.
      this.count -= rows;
      this.lost += rows;
      this.lastError = (err as Error).message;
    }
  }

  /** Takes up to `n` rows from the front. */
  shift(n: number): unknown[][] {
    this.writeOut();
    const out: unknown[][] = [];
    const buf = Buffer.alloc(CHUNK);
    while (out.length < n && this.count > 0) {
      let nl = this.pending.indexOf('\n');
      if (nl < 0) {
        const got = fs.readSync(this.fd, buf, 0, CHUNK, this.readPos);
        if (got === 0) break;
        this.readPos += got;
        this.pending += buf.toString('utf8', 0, got);
        continue;
      }
      out.push(decodeRow(JSON.parse(this.pending.slice(0, nl)) as unknown[]));
      this.pending = this.pending.slice(nl + 1);
      this.count--;
      nl = -1;
    }
    if (this.count === 0) this.clear();
    return out;
  }

  /** Every row still in the file, in order (for the spool file at exit). */
  drainAll(): unknown[][] {
    return this.count ? this.shift(this.count) : [];
  }

  clear(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
    this.writePos = this.readPos = this.count = 0;
    this.pending = '';
    this.unwritten = [];
    this.unwrittenBytes = 0;
    fs.rmSync(this.file, { force: true });
  }
}
