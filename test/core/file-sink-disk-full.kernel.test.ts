/**
 * FileSink on a full disk (a 64 KiB tmpfs mounted by the test, root needed): a write the
 * disk takes only in part leaves no half record, and only what is not in the file counts
 * as dropped.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { Counters } from '../../src/core/counters.js';
import { FileSink } from '../../src/core/file-sink.js';
import { tempDir } from '../daemon.js';
import { SmallDisk } from '../small-disk.js';

describe('FileSink on a full disk', () => {
  let dir: string;
  let disk: SmallDisk;
  before(() => {
    dir = tempDir();
    disk = new SmallDisk(path.join(dir, 'small'), '64k');
  });
  after(() => {
    disk.unmount();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('cuts a partly written chunk off the file and counts only the records not in it', async () => {
    const file = path.join(disk.path, 'out.txt');
    const counters = new Counters();
    const logged: string[] = [];
    const log = pino(
      { level: 'info' },
      {
        write: (s: string) => {
          logged.push(JSON.parse(s).msg);
        },
      },
    );
    const sink = new FileSink({ path: file, counters, log });
    sink.open();
    // 100 chunks of 10 lines of 100 bytes: 100 KB for a 64 KiB disk, whose end falls inside a line.
    let seq = 0;
    for (let c = 0; c < 100; c++) {
      let chunk = '';
      for (let l = 0; l < 10; l++) chunk += `${String(seq++).padStart(6, '0')} ${'x'.repeat(92)}\n`;
      sink.write(Buffer.from(chunk), 10);
      if (c % 7 === 0) await sink.flush(); // writes of different sizes
    }
    await sink.close();
    const text = fs.readFileSync(file, 'latin1');
    assert.ok(text.length > 32 * 1024, `the disk took ${text.length} bytes`);
    assert.ok(text.endsWith('\n'), 'no half line at the end');
    const lines = text.split('\n').slice(0, -1);
    assert.ok(
      lines.every((l, i) => l === `${String(i).padStart(6, '0')} ${'x'.repeat(92)}`),
      'whole lines, in order, none twice',
    );
    assert.equal(counters.sent, lines.length, 'sent = lines in the file');
    assert.equal(counters.dropped, 1000 - lines.length, 'dropped = lines not in the file');
    assert.ok(counters.errors >= 1);
    assert.equal(logged.filter((m) => /ENOSPC/.test(m)).length, 1, 'the error logged once');
  });
});
