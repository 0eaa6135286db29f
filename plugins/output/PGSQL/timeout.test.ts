/** PGSQL behind a TCP proxy that stalls: the batch times out and is written on a new connection, once. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import { TcpProxy } from '../../shared/sql/tcp-proxy.js';
import PGSQL from './index.js';

const DB = `specter_stall_${process.pid}`;
const psql = (sql: string, db = DB) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();

describe('PGSQL when the link stalls', { timeout: 30000 }, () => {
  const dir = tempDir();
  before(() => {
    psql(`CREATE DATABASE ${DB}`, 'postgres');
    psql('CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix text)');
  });
  after(() => {
    psql(`DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`, 'postgres');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives up on a connection that stops answering after pgsqltimeout and writes the batch on a new one', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 5432 });
    const port = await proxy.listen();
    const h = await outputHarness(PGSQL, {
      pgsqlhost: '127.0.0.1',
      pgsqlport: port,
      pgsqluser: 'postgres',
      pgsqldb: DB,
      pgsqltable: 'ulog',
      pgsqltimeout: 1,
      pgsqlspooldir: dir,
    });
    try {
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `a${i}` });
      await waitFor(() => psql('SELECT count(*) FROM ulog') === '5', 5000, 'the first rows');
      proxy.stall();
      const stalledAt = Date.now();
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `b${i}` });
      await waitFor(() => psql('SELECT count(*) FROM ulog') === '10', 10000, 'the rows sent while the link stalled');
      assert.ok(Date.now() - stalledAt >= 900, 'waited for the timeout');
      assert.equal(psql('SELECT count(DISTINCT oob_prefix) FROM ulog'), '10');
      assert.ok(h.counters.errors >= 1);
      // Other sessions see the rows as soon as the server commits; the output counts them when COMMIT's answer arrives.
      await waitFor(() => h.counters.sent >= 10, 5000, 'the commit to be counted');
      assert.equal(h.counters.sent, 10);
    } finally {
      await h.instance.close();
      await proxy.close();
    }
  });
});
