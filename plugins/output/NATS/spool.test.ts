/** The sensor's spool and sequence: order, acknowledgement, rewind, torn tails, segments, restarts. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { Sequence } from './sequence.js';
import { FRAME_HEADER, sealFrame, Spool } from './spool.js';

/** A record as the spool sees it: 8 bytes of sequence at offset 4 (as record-codec.ts puts it), then filler. */
function frames(seqs: number[], size = 40): Buffer {
  const out = Buffer.alloc(seqs.length * (FRAME_HEADER + size));
  seqs.forEach((seq, i) => {
    const start = i * (FRAME_HEADER + size);
    out.writeUInt32LE(seq, start + FRAME_HEADER + 4);
    out.fill(seq & 0xff, start + FRAME_HEADER + 12, start + FRAME_HEADER + size);
    sealFrame(out, start, start + FRAME_HEADER + size);
  });
  return out;
}

const seqOf = (b: Buffer, o: number) => b.readUInt32LE(o + 4);

/** Reads everything unread: [seq, end position] per record. */
function readAll(sp: Spool): Array<{ seq: number; seg: number; end: number }> {
  const out: Array<{ seq: number; seg: number; end: number }> = [];
  for (let b = sp.readNext(1000); b; b = sp.readNext(1000)) {
    for (let i = 0; i < b.starts.length; i++) out.push({ seq: seqOf(b.buf, b.starts[i]), seg: b.seg, end: b.ends[i] });
  }
  return out;
}

describe('NATS spool', () => {
  it('gives records back in order, keeps what is not acknowledged across a reopen, and rewinds', () => {
    const dir = tempDir('specter-spool-');
    let sp = new Spool(dir, seqOf);
    const b = frames([1, 2, 3, 4, 5]);
    sp.append(b, b.length);
    assert.equal(sp.bytes, b.length);
    const got = readAll(sp);
    assert.deepEqual(
      got.map((r) => r.seq),
      [1, 2, 3, 4, 5],
    );
    sp.ack(got[1].seg, got[1].end);
    assert.equal(sp.bytes, (b.length * 3) / 5);
    sp.rewind();
    assert.deepEqual(
      readAll(sp).map((r) => r.seq),
      [3, 4, 5],
    );
    sp.close();

    sp = new Spool(dir, seqOf);
    assert.equal(sp.lastSeqAtOpen, 5);
    assert.equal(sp.bytes, (b.length * 3) / 5);
    assert.deepEqual(
      readAll(sp).map((r) => r.seq),
      [3, 4, 5],
    );
    assert.equal(sp.torn, 0);
    sp.close();
  });

  it('cuts a torn last record off at open, counts it, and appends after the last whole one', () => {
    const dir = tempDir('specter-spool-');
    let sp = new Spool(dir, seqOf);
    const b = frames([1, 2, 3]);
    sp.append(b, b.length);
    sp.close();
    const [seg] = fs.readdirSync(dir).filter((f) => f.endsWith('.seg'));
    // A crash in the middle of writing record 4: its header and half its bytes.
    const torn = frames([4]);
    fs.appendFileSync(path.join(dir, seg), torn.subarray(0, torn.length / 2));
    sp = new Spool(dir, seqOf);
    assert.equal(sp.torn, 1);
    assert.equal(sp.lastSeqAtOpen, 3);
    const more = frames([5]);
    sp.append(more, more.length);
    assert.deepEqual(
      readAll(sp).map((r) => r.seq),
      [1, 2, 3, 5],
    );
    sp.close();

    // A whole-length record whose bytes were not all written (zeros after a power loss): its CRC fails.
    sp = new Spool(dir, seqOf);
    const bad = frames([6]);
    bad.fill(0, FRAME_HEADER + 20);
    sp.close();
    fs.appendFileSync(path.join(dir, seg), bad);
    sp = new Spool(dir, seqOf);
    assert.equal(sp.torn, 1);
    assert.deepEqual(
      readAll(sp).map((r) => r.seq),
      [1, 2, 3, 5],
    );
    sp.close();
  });

  it('hands out records one at a time from the chunk it read, while appends go on, without re-reading the file per record', () => {
    const dir = tempDir('specter-spool-');
    const sp = new Spool(dir, seqOf);
    const reads = { n: 0 };
    const readSync = fs.readSync;
    // Counting the reads of the real file system, not replacing them.
    (fs as { readSync: typeof fs.readSync }).readSync = ((...args: Parameters<typeof fs.readSync>) => {
      reads.n++;
      return readSync(...args);
    }) as typeof fs.readSync;
    try {
      const got: number[] = [];
      let seq = 1;
      for (let round = 0; round < 20; round++) {
        const f = frames(Array.from({ length: 100 }, () => seq++));
        sp.append(f, f.length);
        for (let b = sp.readNext(1); b; b = sp.readNext(1)) got.push(seqOf(b.buf, b.starts[0]));
      }
      assert.deepEqual(
        got,
        Array.from({ length: 2000 }, (_, i) => i + 1),
      );
      assert.ok(reads.n <= 40, `${reads.n} reads for 2000 records in 20 appends`);
    } finally {
      (fs as { readSync: typeof fs.readSync }).readSync = readSync;
      sp.close();
    }
  });

  it('deletes a segment once every record in it is acknowledged', () => {
    const dir = tempDir('specter-spool-');
    const sp = new Spool(dir, seqOf);
    // Records of 1 MiB: the 17th starts a second segment (16 MiB each).
    const size = (1 << 20) - FRAME_HEADER;
    for (let i = 1; i <= 20; i++) {
      const f = frames([i], size);
      sp.append(f, f.length);
    }
    assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length, 2);
    const got = readAll(sp);
    assert.deepEqual(
      got.map((r) => r.seq),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    const last = got[16];
    sp.ack(last.seg, last.end);
    assert.equal(fs.readdirSync(dir).filter((f) => f.endsWith('.seg')).length, 1);
    assert.equal(sp.bytes, 3 * (1 << 20));
    sp.close();
    const again = new Spool(dir, seqOf);
    assert.deepEqual(
      readAll(again).map((r) => r.seq),
      [18, 19, 20],
    );
    again.close();
  });

  it("keeps the sensor's sequence increasing across reopenings, after the last record spooled", () => {
    const dir = tempDir('specter-seq-');
    const a = Sequence.for(dir);
    const first = [a.take(1), a.take(1), a.take(3), a.take(1)];
    assert.deepEqual(first, [0, 1, 2, 5], 'a run of numbers for a message of several records');
    assert.equal(Sequence.for(dir), a, 'one sequence per directory in a process');
    // A new process (read from the file): past the reserved block, never a number used before.
    const b = new (Sequence as unknown as { new (d: string): Sequence })(dir);
    const next = b.take(1);
    assert.ok(next > 5, `${next} follows the numbers used`);
    b.atLeast(next + 5_000_000);
    assert.equal(b.take(2_000_000), next + 5_000_001);
    const c = new (Sequence as unknown as { new (d: string): Sequence })(dir);
    assert.ok(c.take(1) > next + 7_000_000, 'the reservation covers the jump and the run');
  });
});
