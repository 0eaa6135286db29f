/**
 * The sensor's spool: every record is appended here before it is published,
 * and leaves it only when JetStream has acknowledged it. Records are frames
 * `[u32 length][u32 CRC-32 of the record][record]` in numbered segment files;
 * a small `acked` file holds where the first unacknowledged record starts,
 * and a segment whose records are all acknowledged is deleted.
 *
 * Appends are synchronous writes (a kill -9 after one loses nothing it
 * wrote); sync() makes them durable against power loss, and the output calls
 * it on a short timer. At open, the last segment is checked frame by frame: a
 * torn last record (a crash in the middle of a write) is cut off and counted.
 */
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';

export const FRAME_HEADER = 8;
/** A segment is closed and a new one started past this size. */
const SEGMENT_BYTES = 16 << 20;
const READ_CHUNK = 1 << 20;
const SEGMENT_NAME = /^(\d{12})\.seg$/;

interface Position {
  seg: number;
  off: number;
}

/** Frames read for publishing: record i is buf[starts[i], ends[i]), ending at spool position (seg, ends[i]). */
export interface ReadBatch {
  buf: Buffer;
  seg: number;
  starts: number[];
  ends: number[];
}

export class Spool {
  /** Records cut off or skipped because they were torn or damaged. */
  torn = 0;
  /** Bytes of records not yet acknowledged. */
  bytes = 0;
  /** Sequence number of the last record in the spool when it was opened (-1: none). */
  readonly lastSeqAtOpen: number;
  private segs: number[] = [];
  private readonly sizes = new Map<number, number>();
  private fd = -1;
  private writeSeg = 0;
  private acked: Position;
  private read: Position;
  private dirty = false;
  private ackedDirty = false;
  private ackedSavedAt = 0;

  constructor(
    readonly dir: string,
    seqOf: (b: Buffer, o: number) => number,
  ) {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const f of fs.readdirSync(dir)) {
      const m = SEGMENT_NAME.exec(f);
      if (m) this.segs.push(Number(m[1]));
    }
    this.segs.sort((a, b) => a - b);
    this.acked = this.readAcked();
    // Segments wholly acknowledged but not yet deleted (a crash between the two).
    while (this.segs.length && this.segs[0] < this.acked.seg) fs.rmSync(this.file(this.segs.shift()!), { force: true });
    let lastSeq = -1;
    for (const s of this.segs) this.sizes.set(s, fs.statSync(this.file(s)).size);
    if (this.segs.length) {
      const last = this.segs[this.segs.length - 1];
      lastSeq = this.checkTail(last, seqOf);
    }
    this.lastSeqAtOpen = lastSeq;
    if (!this.segs.length || this.acked.seg > this.segs[this.segs.length - 1]) {
      this.acked = { seg: Math.max(this.acked.seg, (this.segs.at(-1) ?? 0) + 1), off: 0 };
      this.segs = [];
    }
    if (this.segs.length && this.acked.seg < this.segs[0]) this.acked = { seg: this.segs[0], off: 0 };
    if (this.segs.length) this.acked.off = Math.min(this.acked.off, this.sizes.get(this.acked.seg) ?? 0);
    this.read = { ...this.acked };
    for (const s of this.segs) this.bytes += this.sizes.get(s)! - (s === this.acked.seg ? this.acked.off : 0);
    this.writeSeg = this.segs.at(-1) ?? this.acked.seg;
    if (!this.segs.length) this.newSegment(this.writeSeg);
    else this.fd = fs.openSync(this.file(this.writeSeg), 'r+');
  }

  /** Appends whole frames (sealed with sealFrame()); throws when the disk refuses them, leaving nothing appended. */
  append(buf: Buffer, len: number): void {
    const size = this.sizes.get(this.writeSeg)!;
    if (size >= SEGMENT_BYTES) {
      this.syncNow();
      fs.closeSync(this.fd);
      this.newSegment(this.writeSeg + 1);
      this.append(buf, len);
      return;
    }
    let done = 0;
    try {
      while (done < len) done += fs.writeSync(this.fd, buf, done, len - done, size + done);
    } catch (err) {
      // Leave no partial frame behind: the next append overwrites from the old end.
      try {
        fs.ftruncateSync(this.fd, size);
      } catch {
        /* the next open cuts a torn tail */
      }
      throw err;
    }
    this.sizes.set(this.writeSeg, size + len);
    this.bytes += len;
    this.dirty = true;
    // A publisher that has read everything reads these frames next: from memory, not back from the file.
    if (this.read.seg === this.writeSeg && this.read.off === size) {
      this.chunk = Buffer.allocUnsafe(len);
      buf.copy(this.chunk, 0, 0, len);
      this.chunkSeg = this.writeSeg;
      this.chunkOff = size;
      this.chunkLen = len;
      this.chunkChecked = true;
    }
  }

  /** Makes every append so far durable. */
  sync(): Promise<void> {
    if (!this.dirty || this.fd < 0) return Promise.resolve();
    this.dirty = false;
    const fd = this.fd;
    return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  }

  private syncNow(): void {
    if (this.dirty) fs.fsyncSync(this.fd);
    this.dirty = false;
  }

  /** True when records wait to be read for publishing. */
  hasUnread(): boolean {
    return this.read.seg < this.writeSeg || this.read.off < this.sizes.get(this.writeSeg)!;
  }

  /** Up to `max` records after the read position (within one segment), advancing it. */
  readNext(max: number): ReadBatch | null {
    for (;;) {
      const seg = this.read.seg;
      const size = this.sizes.get(seg);
      if (size === undefined) return null;
      if (this.read.off >= size) {
        if (seg >= this.writeSeg) return null;
        this.read = { seg: this.segs.find((s) => s > seg) ?? this.writeSeg, off: 0 };
        continue;
      }
      // Records are parsed from the chunk read last while it holds the next whole one; else a new chunk is read.
      if (!this.cachedFrameAt(seg, this.read.off)) this.loadChunk(seg, size);
      const buf = this.chunk!;
      const chunkEnd = this.chunkLen;
      const starts: number[] = [];
      const ends: number[] = [];
      let o = this.read.off - this.chunkOff;
      let damaged = false;
      while (starts.length < max && o + FRAME_HEADER <= chunkEnd) {
        const end = o + FRAME_HEADER + buf.readUInt32LE(o);
        if (end > chunkEnd) break;
        if (!this.chunkChecked && zlib.crc32(buf.subarray(o + FRAME_HEADER, end)) !== buf.readUInt32LE(o + 4)) {
          damaged = true;
          break;
        }
        starts.push(o + FRAME_HEADER);
        ends.push(this.chunkOff + end);
        o = end;
      }
      if (starts.length) {
        this.read = { seg, off: ends[ends.length - 1] };
        return { buf, seg, starts, ends };
      }
      // Damage inside the spool, or bytes that never make a whole record: the rest of this segment cannot be framed.
      if (damaged || this.chunkOff + chunkEnd >= size) this.torn++;
      this.read = { seg, off: size };
    }
  }

  private chunk: Buffer | null = null;
  private chunkSeg = -1;
  /** File offset and length of the chunk's bytes. */
  private chunkOff = 0;
  private chunkLen = 0;
  /** The chunk holds frames as appended (sealed in this process), not read back: no CRC to check. */
  private chunkChecked = false;

  /** True when the chunk read last holds the whole record starting at (seg, off). */
  private cachedFrameAt(seg: number, off: number): boolean {
    if (!this.chunk || this.chunkSeg !== seg || off < this.chunkOff) return false;
    const rel = off - this.chunkOff;
    return rel + FRAME_HEADER <= this.chunkLen && rel + FRAME_HEADER + this.chunk.readUInt32LE(rel) <= this.chunkLen;
  }

  /** Reads the segment's bytes from the read position: up to 1 MiB, or one whole larger record. A new buffer each time: what was handed out stays valid. */
  private loadChunk(seg: number, size: number): void {
    const off = this.read.off;
    const want = Math.min(READ_CHUNK, size - off);
    const fd = seg === this.writeSeg ? this.fd : fs.openSync(this.file(seg), 'r');
    try {
      let buf = Buffer.allocUnsafe(want);
      let got = readFully(fd, buf, 0, want, off);
      if (got >= FRAME_HEADER) {
        const first = FRAME_HEADER + buf.readUInt32LE(0);
        if (first > got && off + first <= size) {
          const big = Buffer.allocUnsafe(first);
          buf.copy(big, 0, 0, got);
          got += readFully(fd, big, got, first - got, off + got);
          buf = big;
        }
      }
      this.chunk = buf;
      this.chunkSeg = seg;
      this.chunkOff = off;
      this.chunkLen = got;
      this.chunkChecked = false;
    } finally {
      if (fd !== this.fd) fs.closeSync(fd);
    }
  }

  /** Publishing starts again from the first unacknowledged record (after a failure). */
  rewind(): void {
    this.read = { ...this.acked };
  }

  /** Every record up to spool position (seg, off) is acknowledged. */
  ack(seg: number, off: number): void {
    if (seg < this.acked.seg || (seg === this.acked.seg && off <= this.acked.off)) return;
    while (this.acked.seg < seg) {
      const old = this.acked.seg;
      this.bytes -= (this.sizes.get(old) ?? 0) - this.acked.off;
      if (old !== this.writeSeg) {
        this.sizes.delete(old);
        this.segs = this.segs.filter((s) => s !== old);
        fs.rmSync(this.file(old), { force: true });
      }
      this.acked = { seg: this.segs.find((s) => s > old) ?? this.writeSeg, off: 0 };
    }
    this.bytes -= off - this.acked.off;
    this.acked = { seg, off };
    this.ackedDirty = true;
  }

  /**
   * Writes the acknowledged position, at most once a second unless `now` (at
   * close); a stale one only means records sent again after a crash, which
   * the stream's duplicate window drops.
   */
  saveAcked(now = false): void {
    if (!this.ackedDirty || (!now && Date.now() - this.ackedSavedAt < 1000)) return;
    this.ackedDirty = false;
    this.ackedSavedAt = Date.now();
    const tmp = path.join(this.dir, 'acked.tmp');
    fs.writeFileSync(tmp, `${this.acked.seg} ${this.acked.off}\n`);
    fs.renameSync(tmp, path.join(this.dir, 'acked'));
  }

  close(): void {
    if (this.fd < 0) return;
    try {
      this.syncNow();
    } finally {
      fs.closeSync(this.fd);
      this.fd = -1;
    }
    this.saveAcked(true);
  }

  private file(seg: number): string {
    return path.join(this.dir, `${String(seg).padStart(12, '0')}.seg`);
  }

  private newSegment(seg: number): void {
    this.fd = fs.openSync(this.file(seg), 'w+', 0o600);
    this.writeSeg = seg;
    this.segs.push(seg);
    this.sizes.set(seg, 0);
  }

  private readAcked(): Position {
    try {
      const [seg, off] = fs.readFileSync(path.join(this.dir, 'acked'), 'utf8').trim().split(' ').map(Number);
      if (Number.isSafeInteger(seg) && Number.isSafeInteger(off) && seg >= 0 && off >= 0) return { seg, off };
    } catch {
      /* no acknowledgement yet */
    }
    return { seg: this.segs[0] ?? 1, off: 0 };
  }

  /** Checks the last segment frame by frame; cuts a torn tail and returns the last good record's sequence. */
  private checkTail(seg: number, seqOf: (b: Buffer, o: number) => number): number {
    const file = this.file(seg);
    const data = fs.readFileSync(file);
    let o = 0;
    let lastSeq = -1;
    while (o + FRAME_HEADER <= data.length) {
      const len = data.readUInt32LE(o);
      const end = o + FRAME_HEADER + len;
      if (end > data.length || zlib.crc32(data.subarray(o + FRAME_HEADER, end)) !== data.readUInt32LE(o + 4)) break;
      lastSeq = seqOf(data, o + FRAME_HEADER);
      o = end;
    }
    if (o < data.length) {
      this.torn++;
      fs.truncateSync(file, o);
      this.sizes.set(seg, o);
    }
    return lastSeq;
  }
}

function readFully(fd: number, buf: Buffer, at: number, n: number, pos: number): number {
  let got = 0;
  while (got < n) {
    const r = fs.readSync(fd, buf, at + got, n - got, pos + got);
    if (r === 0) break;
    got += r;
  }
  return got;
}

/** Writes the frame header for the record at buf[start+8, end). */
export function sealFrame(buf: Buffer, start: number, end: number): void {
  buf.writeUInt32LE(end - start - FRAME_HEADER, start);
  buf.writeUInt32LE(zlib.crc32(buf.subarray(start + FRAME_HEADER, end)), start + 4);
}
