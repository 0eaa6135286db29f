/**
 * FileSink: a bounded queue (busy when half full, the chunk that makes it busy kept however
 * large, drops counted); files switched between two writes; the old descriptor kept when a reopen fails;
 * a deleted file opened anew.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Counters } from '../../src/core/counters.js';
import { FileSink } from '../../src/core/file-sink.js';
import { tempDir } from '../daemon.js';

/** A pino logger whose lines land in `lines`. */
function memoryLog(lines: Array<{ level: number; msg: string }>) {
  return pino(
    { level: 'info' },
    {
      write: (s: string) => {
        lines.push(JSON.parse(s));
      },
    },
  );
}

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'latin1') : '');

/** Runs `test` on a sink with a 1000-byte queue limit writing out.txt in a temporary directory. */
async function withLimitedSink(test: (sink: FileSink, counters: Counters, file: string) => Promise<void>): Promise<void> {
  const dir = tempDir();
  try {
    const file = path.join(dir, 'out.txt');
    const counters = new Counters();
    const sink = new FileSink({ path: file, counters, log: pino({ level: 'silent' }), maxBytes: 1000 });
    sink.open();
    await test(sink, counters, file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('FileSink', () => {
  it('queues behind a write in flight, reports busy past half its limit, and counts what does not fit', () =>
    withLimitedSink(async (sink, counters, file) => {
      assert.ok(sink.write(Buffer.alloc(3000, 'a'), 3), 'larger than the limit, but nothing waits before it');
      assert.ok(sink.write(Buffer.alloc(400, 'b'), 4));
      assert.equal(sink.busy, false, '400 of 1000 bytes wait');
      assert.ok(sink.write(Buffer.alloc(400, 'c'), 4));
      assert.equal(sink.busy, true, '800 of 1000 bytes wait');
      assert.equal(sink.write(Buffer.alloc(400, 'd'), 4), false, 'over the limit');
      await sink.close();
      assert.equal(sink.busy, false);
      assert.deepEqual({ sent: counters.sent, dropped: counters.dropped }, { sent: 11, dropped: 4 });
      assert.equal(fs.readFileSync(file, 'latin1'), 'a'.repeat(3000) + 'b'.repeat(400) + 'c'.repeat(400));
    }));

  it('keeps the chunk that makes it busy even past the limit: a source that pauses on busy loses nothing', () =>
    withLimitedSink(async (sink, counters, file) => {
      assert.ok(sink.write(Buffer.alloc(100, 'a'), 1), 'handed to the write in flight');
      assert.ok(sink.write(Buffer.alloc(450, 'b'), 1));
      assert.equal(sink.busy, false, '450 of 1000 bytes wait: the source reads on');
      // One batch of small packets can make more text than half the limit.
      assert.ok(sink.write(Buffer.alloc(600, 'c'), 1), '1050 bytes wait, over the limit, but it was not busy');
      assert.equal(sink.busy, true);
      assert.equal(sink.write(Buffer.alloc(10, 'd'), 1), false, 'busy and over the limit');
      await sink.close();
      assert.deepEqual({ sent: counters.sent, dropped: counters.dropped }, { sent: 3, dropped: 1 });
      assert.equal(read(file), 'a'.repeat(100) + 'b'.repeat(450) + 'c'.repeat(600));
    }));

  it('switches files between two writes while the queue never empties', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'out.txt');
      const counters = new Counters();
      const sink = new FileSink({ path: file, counters, log: pino({ level: 'silent' }) });
      sink.open();
      // Each finished write is followed at once by a new chunk: the queue is never empty.
      let fed = 0;
      let switchedAt = -1;
      sink.recycle = () => {
        if (fed < 200) sink.write(Buffer.from(`${String(fed++).padStart(4, '0')}\n`), 1);
      };
      sink.write(Buffer.from(`${String(fed++).padStart(4, '0')}\n`), 1);
      sink.write(Buffer.from(`${String(fed++).padStart(4, '0')}\n`), 1);
      fs.renameSync(file, `${file}.1`);
      await sink.reopen().then(() => {
        switchedAt = fed;
      });
      await sink.close();
      assert.ok(switchedAt >= 0 && switchedAt < 10, `the switch waited for ${switchedAt} writes`);
      const old = read(`${file}.1`);
      const now = read(file);
      assert.ok(old.length > 0 && now.length > 0, 'both files written');
      const all = (old + now).split('\n').filter(Boolean);
      assert.deepEqual(
        all,
        Array.from({ length: 200 }, (_, i) => String(i).padStart(4, '0')),
        'every chunk once, in order',
      );
      assert.equal(counters.sent, 200);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rotates after what was queued before the rotation, asking the name when it happens', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'out.txt');
      const sink = new FileSink({ path: file, counters: new Counters(), log: pino({ level: 'silent' }) });
      sink.open();
      sink.write(Buffer.from('a'), 1); // in flight
      sink.write(Buffer.from('b'), 1); // queued
      let asked = 0;
      const rotated = sink.rotate(() => {
        asked++;
        return `${file}.r`;
      });
      sink.write(Buffer.from('c'), 1);
      assert.equal(asked, 0, 'not before the queued chunks are written');
      await rotated;
      await sink.close();
      assert.equal(asked, 1);
      assert.equal(read(`${file}.r`), 'ab');
      assert.equal(read(file), 'c');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keeps writing to the old file when a reopen fails, says so once, and tries again at the next reopen', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'out.txt');
      const counters = new Counters();
      const logged: Array<{ level: number; msg: string }> = [];
      const sink = new FileSink({ path: file, counters, log: memoryLog(logged) });
      sink.open();
      sink.write(Buffer.from('one\n'), 1);
      await sink.flush();
      // logrotate moved the file, and the new path cannot be opened (EISDIR fails even for root).
      fs.renameSync(file, `${file}.1`);
      fs.mkdirSync(file);
      await sink.reopen();
      for (let i = 0; i < 50; i++) sink.write(Buffer.from(`two ${i}\n`), 1);
      await sink.flush();
      const errors = logged.filter((l) => l.level >= 50);
      assert.equal(errors.length, 1, 'one line, not one per record');
      assert.match(errors[0].msg, /cannot reopen .*out\.txt: EISDIR.*still writing to the previous file, trying again at the next SIGHUP/);
      assert.equal(read(`${file}.1`).split('\n').filter(Boolean).length, 51, 'every record in the old file');
      assert.deepEqual([counters.sent, counters.dropped], [51, 0]);
      // Fixed: the next reopen switches.
      fs.rmdirSync(file);
      await sink.reopen();
      sink.write(Buffer.from('three\n'), 1);
      await sink.close();
      assert.equal(read(file), 'three\n');
      assert.deepEqual([counters.sent, counters.dropped], [52, 0]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens a deleted file anew at its next write', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'out.txt');
      const counters = new Counters();
      const logged: Array<{ level: number; msg: string }> = [];
      const sink = new FileSink({ path: file, counters, log: memoryLog(logged) });
      sink.open();
      sink.write(Buffer.from('one\n'), 1);
      await sink.flush();
      fs.unlinkSync(file);
      sink.write(Buffer.from('two\n'), 1);
      await sink.close();
      assert.equal(read(file), 'two\n');
      assert.equal(counters.sent, 2);
      assert.equal(logged.filter((l) => /was deleted/.test(l.msg)).length, 1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
