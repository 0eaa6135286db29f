/** FileSink's queue: bounded, busy when half full, a lone oversized chunk still written, drops counted. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Counters } from '../../src/core/counters.js';
import { FileSink } from '../../src/core/file-sink.js';
import { tempDir } from '../daemon.js';

describe('FileSink', () => {
  it('queues behind a write in flight, reports busy past half its limit, and counts what does not fit', async () => {
    const dir = tempDir();
    try {
      const file = path.join(dir, 'out.txt');
      const counters = new Counters();
      const sink = new FileSink({ path: file, counters, log: pino({ level: 'silent' }), maxBytes: 1000 });
      sink.open();
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
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
