/** Rows MariaDB in strict mode refuses (too long for varchar, a CHECK, a duplicate key) are set aside; the rest is written. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import MYSQL from './index.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const DB = `specter_rej_${process.pid}`;
const mysql = (sql: string, db = DB) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, '-e', sql], { encoding: 'utf8' }).trim();

describe('MYSQL rows the server refuses', { timeout: 30000 }, () => {
  const dir = tempDir();
  before(() => {
    mysql(`CREATE DATABASE ${DB}`, '');
    mysql("CREATE TABLE ulog (id int AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(10) CHECK (oob_prefix <> 'forbidden'), udp_sport int UNIQUE)");
  });
  after(() => {
    mysql(`DROP DATABASE IF EXISTS ${DB}`, '');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes every other row of the batch, sets the refused ones aside with the reason and counts them', async () => {
    assert.match(mysql('SELECT @@sql_mode'), /STRICT_TRANS_TABLES/);
    const h = await outputHarness(MYSQL, { mysqlsocket: SOCKET, mysqluser: 'root', mysqldb: DB, mysqltable: 'ulog', mysqlspooldir: dir, mysqlbatch: 100 });
    const rows: Array<[string, number]> = [
      ['ok0', 0],
      ['USER \0', 1],
      ['x'.repeat(20), 2],
      ['ok3', 3],
      ['forbidden', 4],
      ['dup', 3],
      ['ok6', 6],
    ];
    try {
      for (const [prefix, port] of rows) h.packet({ 'oob.prefix': prefix, 'udp.sport': port });
      await waitFor(() => h.counters.sent + h.counters.extra.rejected === rows.length, 10000, 'every row written or set aside');
    } finally {
      await h.instance.close();
    }
    assert.deepEqual(
      mysql('SELECT HEX(oob_prefix) FROM ulog ORDER BY udp_sport').split('\n'),
      ['ok0', 'USER \0', 'ok3', 'ok6'].map((s) => Buffer.from(s).toString('hex').toUpperCase()),
    );
    const rejected = fs
      .readFileSync(path.join(dir, 'MYSQL-group1-ulog.rejected'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rejected.map((r) => r.row['oob.prefix']),
      ['x'.repeat(20), 'forbidden', 'dup'],
    );
    assert.match(rejected[0].reason, /Data too long/);
    assert.match(rejected[1].reason, /CONSTRAINT/i);
    assert.match(rejected[2].reason, /Duplicate entry/);
    assert.equal(h.counters.extra.rejected, 3);
    assert.equal(h.counters.sent + h.counters.dropped, h.counters.received);
  });
});
