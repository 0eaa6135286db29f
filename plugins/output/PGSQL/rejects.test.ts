/** Rows PostgreSQL refuses (too long for varchar, a CHECK) are set aside; a NUL in text is written escaped. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import PGSQL from './index.js';

const DB = `specter_rej_${process.pid}`;
const psql = (sql: string, db = DB) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();

describe('PGSQL rows the server refuses', { timeout: 30000 }, () => {
  const dir = tempDir();
  before(() => {
    psql(`CREATE DATABASE ${DB}`, 'postgres');
    psql("CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix varchar(10) CHECK (oob_prefix <> 'forbidden'), udp_sport integer)");
  });
  after(() => {
    psql(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, 'postgres');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes every other row of the batch, sets the refused ones aside with the reason and counts them', async () => {
    const h = await outputHarness(PGSQL, {
      pgsqlhost: '/var/run/postgresql',
      pgsqluser: 'postgres',
      pgsqldb: DB,
      pgsqltable: 'ulog',
      pgsqlspooldir: dir,
      pgsqlbatch: 100,
    });
    const values = ['ok0', 'USER \0', 'x'.repeat(20), 'ok3', 'forbidden', 'ok5'];
    try {
      for (let i = 0; i < values.length; i++) h.packet({ 'oob.prefix': values[i], 'udp.sport': i });
      await waitFor(() => h.counters.sent + h.counters.extra.rejected === values.length, 10000, 'every row written or set aside');
    } finally {
      await h.instance.close();
    }
    assert.deepEqual(psql('SELECT oob_prefix FROM ulog ORDER BY udp_sport').split('\n'), ['ok0', 'USER \\x00', 'ok3', 'ok5']);
    const rejected = fs
      .readFileSync(path.join(dir, 'PGSQL-group1-ulog.rejected'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rejected.map((r) => r.row['udp.sport']),
      [2, 4],
    );
    assert.match(rejected[0].reason, /too long/);
    assert.match(rejected[1].reason, /check constraint/);
    assert.equal(h.counters.extra.rejected, 2);
    assert.equal(h.counters.sent + h.counters.dropped, h.counters.received);
  });
});
