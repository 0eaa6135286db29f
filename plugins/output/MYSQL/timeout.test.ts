/** MYSQL behind a TCP proxy that stalls: the batch times out and is written on a new connection, once. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import { TcpProxy } from '../../shared/sql/tcp-proxy.js';
import MYSQL from './index.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const DB = `specter_stall_${process.pid}`;
const mysql = (sql: string, db = DB) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, '-e', sql], { encoding: 'utf8' }).trim();

describe('MYSQL when the link stalls', { timeout: 30000 }, () => {
  const dir = tempDir();
  before(() => {
    mysql(`CREATE DATABASE ${DB}`, '');
    mysql('CREATE TABLE ulog (id int AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(64))');
  });
  after(() => {
    mysql(`DROP DATABASE IF EXISTS ${DB}`, '');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('gives up on a connection that stops answering after mysqltimeout and writes the batch on a new one', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 3306 });
    const port = await proxy.listen();
    const h = await outputHarness(MYSQL, {
      mysqlhost: '127.0.0.1',
      mysqlport: port,
      mysqluser: 'root',
      mysqldb: DB,
      mysqltable: 'ulog',
      mysqltimeout: 1,
      mysqlspooldir: dir,
    });
    try {
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `a${i}` });
      await waitFor(() => mysql('SELECT count(*) FROM ulog') === '5', 5000, 'the first rows');
      proxy.stall();
      const stalledAt = Date.now();
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `b${i}` });
      await waitFor(() => mysql('SELECT count(*) FROM ulog') === '10', 10000, 'the rows sent while the link stalled');
      assert.ok(Date.now() - stalledAt >= 900, 'waited for the timeout');
      assert.equal(mysql('SELECT count(DISTINCT oob_prefix) FROM ulog'), '10');
      assert.ok(h.counters.errors >= 1);
      await waitFor(() => h.counters.sent >= 10, 5000, 'the commit to be counted');
      assert.equal(h.counters.sent, 10);
    } finally {
      await h.instance.close();
      await proxy.close();
    }
  });
});
