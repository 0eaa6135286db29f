/**
 * The sensor's sequence number: one counter per sensor (shared by every
 * group of the process that forwards to the same spool directory), that
 * keeps increasing across restarts, crashes and power loss. Numbers are
 * reserved a block at a time in `spooldir/sequence`, written and fsync'd
 * before any number of the block is used; a restart continues after the
 * reserved block, so numbers are never reused (a gap after a restart is
 * harmless: JetStream deduplicates on sensor and sequence, and a reused
 * number inside its duplicate window would be dropped as a duplicate).
 */
import fs from 'node:fs';
import path from 'node:path';

const BLOCK = 1_000_000;

export class Sequence {
  private next = 0;
  private ceiling = 0;
  private readonly file: string;

  private constructor(dir: string) {
    this.file = path.join(dir, 'sequence');
    let stored = 0;
    try {
      stored = Number(fs.readFileSync(this.file, 'utf8').trim());
      if (!Number.isSafeInteger(stored) || stored < 0) throw new Error(`${this.file} holds no sequence number`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    this.next = stored;
    this.ceiling = stored;
  }

  /** Makes sure numbers stay above `seq` (the last record found in a spool). */
  atLeast(seq: number): void {
    if (seq >= this.next) this.next = seq + 1;
  }

  /** The first of `n` consecutive numbers; reserves a new block (one small synchronous write and fsync) when the current one is used up. */
  take(n: number): number {
    if (this.next + n > this.ceiling) this.reserve(this.next + n + BLOCK);
    const first = this.next;
    this.next += n;
    return first;
  }

  private reserve(ceiling: number): void {
    const tmp = `${this.file}.tmp`;
    const fd = fs.openSync(tmp, 'w', 0o600);
    try {
      fs.writeSync(fd, `${ceiling}\n`);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, this.file);
    const dir = fs.openSync(path.dirname(this.file), 'r');
    try {
      fs.fsyncSync(dir);
    } finally {
      fs.closeSync(dir);
    }
    this.ceiling = ceiling;
  }

  private static readonly open = new Map<string, Sequence>();

  /** The sequence of the spool directory `dir`, one object per directory in the process. */
  static for(dir: string): Sequence {
    const key = path.resolve(dir);
    let s = Sequence.open.get(key);
    if (!s) {
      fs.mkdirSync(key, { recursive: true, mode: 0o700 });
      s = new Sequence(key);
      Sequence.open.set(key, s);
    }
    return s;
  }
}
