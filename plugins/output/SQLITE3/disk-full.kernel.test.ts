/**
 * SQLITE3 on a full disk (a tmpfs mounted by the test, root needed): the
 * transaction the disk cannot take is rolled back, its rows wait and are
 * tried again, and once there is room every row is in the table once. Rows
 * count as sent only once committed.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import { SmallDisk } from '../../../test/small-disk.js';
import SQLITE3 from './index.js';

const ROWS = 3000;
const row = (i: number) => `${String(i).padStart(6, '0')}${'x'.repeat(200)}`;

describe('SQLITE3 on a full disk', { timeout: 60000 }, () => {
  let dir: string;
  let disk: SmallDisk;
  before(() => {
    dir = tempDir();
    disk = new SmallDisk(path.join(dir, 'small'), '256k');
  });
  after(() => {
    disk.unmount();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('keeps the rows a full disk refuses, commits none twice, and writes them all once there is room', async () => {
    const file = path.join(disk.path, 'log.db');
    // Batches of 200 rows: the first ones fit, then the disk is full in the middle of one.
    const h = await outputHarness(SQLITE3, { sqlite3db: file, sqlite3batch: 200, sqlite3rejectfile: path.join(dir, 'rejected') });
    try {
      for (let i = 0; i < ROWS; i++) h.packet({ 'oob.prefix': row(i) });
      await waitFor(() => h.counters.errors >= 2, 10000, 'the full disk to refuse a batch, twice');
      const sentWhileFull = h.counters.sent;
      assert.ok(sentWhileFull > 0 && sentWhileFull < ROWS, `${sentWhileFull} rows committed before the disk was full`);
      assert.equal(h.committed(), sentWhileFull, 'settled = committed');
      assert.equal(h.counters.dropped, 0, 'nothing dropped while the rows fit the buffer');
      disk.resize('16m');
      await h.flush();
      assert.equal(h.counters.sent, ROWS);
      assert.equal(h.committed(), ROWS);
    } finally {
      await h.instance.close();
    }
    const db = new Database(file, { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const got = db.prepare('SELECT oob_prefix FROM ulog ORDER BY rowid').pluck().all() as string[];
      assert.equal(got.length, ROWS);
      assert.ok(
        got.every((p, i) => p === row(i)),
        'every row once, in order',
      );
    } finally {
      db.close();
    }
  });
});
