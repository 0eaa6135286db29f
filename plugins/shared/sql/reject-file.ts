/**
 * Rows the database refused (a value too long, a constraint, a value its type
 * cannot hold): one JSON line each, with the time, the table, the reason and
 * the row by key name, appended to a file in the spool directory and flushed
 * to the disk before the row leaves the queue. Each line carries the row's
 * commit marker; a row rejected again after a crash, before its marker was
 * committed, is not written twice.
 */
import fs from 'node:fs';
import path from 'node:path';
import { encode } from './row-codec.js';

const TAIL = 64 * 1024;

export class RejectFile {
  private fd = -1;
  private size = 0;
  private lastMarker: string | null = null;

  constructor(
    readonly file: string,
    private readonly table: string,
    private readonly keys: readonly string[],
  ) {}

  /** Appends a rejected row; false when the same row (same marker) is the file's last line already. */
  write(row: readonly unknown[], reason: string, marker: string): boolean {
    if (this.fd < 0) this.open();
    if (marker === this.lastMarker) return false;
    const named: { [k: string]: unknown } = {};
    for (let i = 0; i < this.keys.length; i++) if (row[i] !== undefined) named[this.keys[i]] = encode(row[i]);
    const line = JSON.stringify({ time: new Date().toISOString(), table: this.table, reason, marker, row: named }) + '\n';
    const b = Buffer.from(line);
    try {
      for (let off = 0; off < b.length; ) off += fs.writeSync(this.fd, b, off, b.length - off, this.size + off);
      fs.fsyncSync(this.fd);
    } catch (err) {
      // No half line stays behind (a full disk takes part of it).
      try {
        fs.ftruncateSync(this.fd, this.size);
      } catch {
        /* the next write starts at the same place anyway */
      }
      throw err;
    }
    this.size += b.length;
    this.lastMarker = marker;
    return true;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  private open(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true });
    this.fd = fs.openSync(this.file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o600);
    const size = (this.size = fs.fstatSync(this.fd).size);
    if (!size) return;
    const buf = Buffer.alloc(Math.min(size, TAIL));
    fs.readSync(this.fd, buf, 0, buf.length, size - buf.length);
    if (buf[buf.length - 1] !== 10) {
      // A line torn by a crash: cut it off, the row is refused again on replay.
      this.size = size - buf.length + buf.lastIndexOf(10) + 1;
      fs.ftruncateSync(this.fd, this.size);
    }
    const lines = buf
      .subarray(0, this.size - (size - buf.length))
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
    try {
      this.lastMarker = (JSON.parse(lines.at(-1) ?? '{}') as { marker?: string }).marker ?? null;
    } catch {
      this.lastMarker = null;
    }
  }
}
