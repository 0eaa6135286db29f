/**
 * SQLITE3 against the component contract, on a real database file: a record
 * is committed once its transaction committed, or once it was refused or
 * dropped; a database locked by another process is waited for by flush().
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-sqlite3-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const count = (file: string, where = '') => {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ulog ${where}`).get() as { n: number }).n;
  } finally {
    db.close();
  }
};

describe('SQLITE3 compliance', () => {
  it('inserts, counts and commits every record', async () => {
    const file = path.join(dir, 'all.db');
    const { closed } = await checkCompliance('SQLITE3', { sqlite3db: file }, { expect: { sent: 300, dropped: 0, errors: 0 } });
    assert.equal(count(file), 300 + closed!.counters.sent);
    assert.equal(count(file, 'WHERE oob_mark = 299'), 2);
  });

  it('rows the table refuses: dropped, set aside, committed', async () => {
    const file = path.join(dir, 'check.db');
    const db = new Database(file);
    db.exec('CREATE TABLE ulog (oob_mark INTEGER CHECK (oob_mark % 10 <> 3), ip_saddr_str TEXT)');
    db.close();
    await checkCompliance('SQLITE3', { sqlite3db: file }, { expect: { sent: 270, dropped: 30, rejected: 30, errors: 0 }, flushOnly: true });
    assert.equal(count(file), 270);
    assert.equal(fs.readFileSync(`${file}.rejected`, 'utf8').trim().split('\n').length, 30);
  });

  it('a database locked for a while: flush waits, then every record is written', async () => {
    const file = path.join(dir, 'locked.db');
    const db = new Database(file);
    db.exec('CREATE TABLE ulog (oob_mark INTEGER)');
    db.pragma('journal_mode = WAL');
    // Another writer holds the lock for 1.5 s.
    db.exec('BEGIN IMMEDIATE');
    const release = setTimeout(() => {
      db.exec('COMMIT');
      db.close();
    }, 1500);
    try {
      const { flushed } = await checkCompliance('SQLITE3', { sqlite3db: file }, { records: 50, expect: { sent: 50, dropped: 0 }, flushOnly: true });
      assert.ok(flushed.counters.errors >= 1, 'the lock was met');
    } finally {
      clearTimeout(release);
      if (db.open) {
        db.exec('COMMIT');
        db.close();
      }
    }
    assert.equal(count(file), 50);
  });
});
