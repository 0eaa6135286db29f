/**
 * One file of rows waiting on disk. The first line is a header: the
 * segment's identity (a random id, which commit markers carry with a byte
 * offset, so a replay after a crash starts where the database says it
 * stopped), the key names of the row arrays, and optionally a batch whose
 * marker decides whether the first rows are already committed. Then one row
 * per line: the CRC-32 of the rest of the line in 8 hex digits, a space, and
 * the row as a JSON array (see row-codec.ts). Files of versions before the
 * checksum (no `crc` in the header) hold the JSON array alone.
 *
 * Lines are read as bytes and split on newlines, so a chunk boundary never
 * splits a character; a line that does not parse, has the wrong shape or the
 * wrong checksum (a torn write at a crash, a damaged disk) is counted and
 * skipped.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { decode } from './row-codec.js';

export interface Skip {
  marker: string;
  n: number;
}

interface Header {
  id?: string;
  keys: string[];
  /** Lines carry a checksum. */
  crc?: boolean;
  skip?: Skip | null;
  /** Spool files written before segments had an identity. */
  inflight?: Skip | null;
}

export interface ReadResult {
  rows: unknown[][];
  /** Byte offset just after each row's line. */
  ends: number[];
  /** Lines that were torn or damaged. */
  corrupt: number;
}

const CHUNK = 1 << 20;
/** Bytes a line has besides its JSON: the checksum, a space and the newline. */
export const LINE_OVERHEAD = 10;

export class Segment {
  /** Next byte to read. */
  readPos: number;
  /** Bytes in the file that belong to it (a failed write may leave more behind, overwritten next). */
  size: number;
  /** Still appended to (this run's overflow); a sealed segment only shrinks. */
  writable: boolean;
  /** Rows read into memory and neither committed nor dropped yet. */
  outstanding = 0;
  /** Commit markers of this segment in the database (older progress, deleted with the next commit). */
  markers: string[] = [];
  /** Resolved against the markers in the database (segments left by an earlier run). */
  resolved: boolean;
  private readonly pos: number[];
  private readonly crc: boolean;
  private pending: string[] = [];
  private pendingBytes = 0;

  private constructor(
    readonly file: string,
    private fd: number,
    readonly id: string,
    readonly skip: Skip | null,
    keys: readonly string[],
    header: Header,
    dataStart: number,
    size: number,
    writable: boolean,
  ) {
    this.readPos = dataStart;
    this.size = size;
    this.writable = writable;
    this.resolved = writable;
    this.pos = keys.map((k) => header.keys.indexOf(k));
    this.crc = header.crc === true;
  }

  /** A new segment, for rows of `keys`; its header is written at once. */
  static create(file: string, keys: readonly string[], skip: Skip | null = null): Segment {
    const id = crypto.randomBytes(8).toString('hex');
    const header: Header = { id, keys: [...keys], skip, crc: true };
    const line = Buffer.from(JSON.stringify(header) + '\n');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const fd = fs.openSync(file, 'wx+', 0o600);
    try {
      writeAll(fd, line, 0);
    } catch (err) {
      fs.closeSync(fd);
      fs.rmSync(file, { force: true });
      throw err;
    }
    return new Segment(file, fd, id, skip, keys, header, line.length, line.length, true);
  }

  /** A segment left on disk by an earlier run; null when not even its header is readable (counted by the caller). */
  static open(file: string, keys: readonly string[]): Segment | null {
    const fd = fs.openSync(file, 'r');
    const size = fs.fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(size, 1 << 20));
    const got = fs.readSync(fd, buf, 0, buf.length, 0);
    const nl = buf.subarray(0, got).indexOf(10);
    try {
      if (nl < 0) throw new Error('no header');
      const h = JSON.parse(buf.toString('utf8', 0, nl)) as Header;
      if (!Array.isArray(h.keys)) throw new Error('no keys');
      const st = fs.fstatSync(fd);
      // Hex ids only: markers are looked up by prefix with LIKE.
      const id =
        typeof h.id === 'string' && /^[0-9a-f]{16}$/.test(h.id)
          ? h.id
          : crypto.createHash('sha256').update(`${file}@${st.ino}.${st.mtimeMs}`).digest('hex').slice(0, 16);
      return new Segment(file, fd, id, h.skip ?? h.inflight ?? null, keys, h, nl + 1, size, false);
    } catch {
      fs.closeSync(fd);
      return null;
    }
  }

  /** Bytes on disk plus bytes waiting to be written. */
  get bytes(): number {
    return this.size + this.pendingBytes;
  }

  get unread(): boolean {
    return this.readPos < this.size || this.pending.length > 0;
  }

  /** Gathers a row, given as its JSON array, for the next writeOut(). */
  append(json: string): void {
    const line = `${zlib.crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
    this.pending.push(line);
    this.pendingBytes += Buffer.byteLength(line);
  }

  /** Writes the gathered lines; returns how many rows could not be written (the error is thrown away after `onError`). */
  writeOut(onError: (err: Error) => void): number {
    if (!this.pending.length) return 0;
    const rows = this.pending.length;
    const b = Buffer.from(this.pending.join(''));
    this.pending = [];
    this.pendingBytes = 0;
    try {
      writeAll(this.fd, b, this.size);
      this.size += b.length;
      return 0;
    } catch (err) {
      // Whatever part was written is overwritten by the next write at the same position.
      onError(err as Error);
      return rows;
    }
  }

  /** Reads up to `max` rows from readPos, in the order of the current keys. */
  read(max: number): ReadResult {
    const out: ReadResult = { rows: [], ends: [], corrupt: 0 };
    let chunk = CHUNK;
    while (out.rows.length < max && this.readPos < this.size) {
      const want = Math.min(chunk, this.size - this.readPos);
      const buf = Buffer.allocUnsafe(want);
      const got = fs.readSync(this.fd, buf, 0, want, this.readPos);
      if (got === 0) {
        this.size = this.readPos; // shorter than it was: cut by something else
        break;
      }
      let start = 0;
      for (let nl = buf.indexOf(10, 0); nl >= 0 && nl < got && out.rows.length < max; nl = buf.indexOf(10, start)) {
        const row = this.parse(buf, start, nl);
        start = nl + 1;
        if (row) {
          out.rows.push(row);
          out.ends.push(this.readPos + start);
        } else {
          out.corrupt++;
        }
      }
      if (start === 0) {
        if (this.readPos + got >= this.size) {
          // The last line has no newline: a write torn by a crash.
          out.corrupt++;
          this.readPos = this.size;
          break;
        }
        chunk *= 2; // a line longer than the chunk
        continue;
      }
      this.readPos += start;
    }
    return out;
  }

  private parse(buf: Buffer, start: number, end: number): unknown[] | null {
    if (this.crc) {
      const json = start + LINE_OVERHEAD - 1;
      if (json > end || buf[json - 1] !== 0x20) return null;
      if (Number.parseInt(buf.toString('latin1', start, start + 8), 16) !== zlib.crc32(buf.subarray(json, end))) return null;
      start = json;
    }
    try {
      const raw = JSON.parse(buf.toString('utf8', start, end)) as unknown;
      if (!Array.isArray(raw)) return null;
      const pos = this.pos;
      const row = new Array(pos.length);
      for (let i = 0; i < pos.length; i++) row[i] = pos[i] < 0 ? undefined : decode(raw[pos[i]]);
      return row;
    } catch {
      return null;
    }
  }

  /** Skips `n` lines from readPos (rows a committed batch already wrote). */
  skipRows(n: number): void {
    while (n > 0 && this.readPos < this.size) {
      const r = this.read(Math.min(n, 10000));
      n -= r.rows.length + r.corrupt;
    }
  }

  /** Flushes the file to the disk. */
  sync(): void {
    fs.fsyncSync(this.fd);
  }

  /** No more appends: trims what a failed write left behind and flushes. */
  seal(): void {
    if (!this.writable) return;
    this.writable = false;
    fs.ftruncateSync(this.fd, this.size);
    fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }

  remove(): void {
    this.close();
    fs.rmSync(this.file, { force: true });
  }
}

function writeAll(fd: number, b: Buffer, at: number): void {
  for (let off = 0; off < b.length; ) off += fs.writeSync(fd, b, off, b.length - off, at + off);
}

/** Makes a creation, rename or removal in `dir` durable. */
export function syncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
