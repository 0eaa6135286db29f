/**
 * Rows beyond the memory queue while the database is away: appended to a
 * file (one JSON line each, like the spool file) and read back in order once
 * the queue has room again. The file is emptied when everything was read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { decodeRow, encodeRow } from './spool.js';

const CHUNK = 1 << 20;

export class OverflowFile {
  private fd = -1;
  private writePos = 0;
  private readPos = 0;
  private pending = '';
  count = 0;

  constructor(readonly file: string, private readonly maxBytes: number) {}

  /** Appends a row; false when the file is at its size limit. */
  push(row: unknown[]): boolean {
    const line = JSON.stringify(encodeRow(row)) + '\n';
    if (this.writePos + line.length > this.maxBytes) return false;
    if (this.fd < 0) {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.fd = fs.openSync(this.file, 'w+', 0o600);
    }
    this.writePos += fs.writeSync(this.fd, line, this.writePos);
    this.count++;
    return true;
  }

  /** Takes up to `n` rows from the front. */
  shift(n: number): unknown[][] {
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
    fs.rmSync(this.file, { force: true });
  }
}
