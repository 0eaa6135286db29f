/** Rows SQLite refuses (a CHECK, NOT NULL, UNIQUE, a STRICT type) are set aside and counted; the rest of the batch is written. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { outputHarness } from '../../../test/output-harness.js';
import SQLITE3 from './index.js';

describe('SQLITE3 rows the database refuses', () => {
  const dir = tempDir();
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('writes every other row of the batch, sets the refused ones aside with the reason and counts them', async () => {
    const file = path.join(dir, 'log.db');
    const db = new Database(file);
    db.exec("CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_prefix TEXT NOT NULL CHECK (oob_prefix <> 'forbidden'), udp_sport INTEGER UNIQUE) STRICT");
    db.close();
    const h = await outputHarness(SQLITE3, { sqlite3db: file });
    const rows: Array<{ [k: string]: unknown }> = [
      { 'oob.prefix': 'ok0', 'udp.sport': 0 },
      { 'oob.prefix': 'forbidden', 'udp.sport': 1 },
      { 'udp.sport': 2 },
      { 'oob.prefix': 'dup', 'udp.sport': 0 },
      { 'oob.prefix': 'ok4', 'udp.sport': 4 },
    ];
    for (const r of rows) h.packet(r);
    await h.flush();
    await h.instance.close();
    const check = new Database(file, { readonly: true });
    assert.deepEqual(check.prepare('SELECT oob_prefix, udp_sport FROM ulog ORDER BY id').all(), [
      { oob_prefix: 'ok0', udp_sport: 0 },
      { oob_prefix: 'ok4', udp_sport: 4 },
    ]);
    check.close();
    const rejected = fs
      .readFileSync(`${file}.rejected`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rejected.map((r) => r.row.udp_sport),
      [1, 2, 0],
    );
    assert.match(rejected[0].reason, /CHECK constraint/);
    assert.match(rejected[1].reason, /NOT NULL/);
    assert.match(rejected[2].reason, /UNIQUE/);
    assert.equal(h.counters.extra.rejected, 3);
    assert.equal(h.counters.sent, 2);
    assert.equal(h.counters.sent + h.counters.dropped, h.counters.received);
  });
});
