/** The COPY text the PGSQL driver sends, read back by the machine's PostgreSQL exactly as given. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { PgDriver } from './driver.js';

const DB = `specter_copy_${process.pid}`;
const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });

describe('PGSQL COPY text', { timeout: 30000 }, () => {
  before(() => {
    psql('postgres', `CREATE DATABASE ${DB}`);
    psql(DB, 'CREATE TABLE t (id serial PRIMARY KEY, s text, n bigint, b boolean, raw bytea, addr inet)');
  });
  after(() => psql('postgres', `DROP DATABASE IF EXISTS ${DB} WITH (FORCE)`));

  it('keeps tabs, newlines, backslashes, NULLs, negative and large numbers, booleans and bytes; NUL becomes \\x00', async () => {
    const d = new PgDriver({ host: '/var/run/postgresql', user: 'postgres', database: DB }, 'public', 't');
    await d.connect();
    const cols = ['s', 'n', 'b', 'raw', 'addr'].map((name) => ({ name, type: '', generated: false }));
    const rows: unknown[][] = [
      ['tab\there, newline\nthere, cr\r, backslash \\N \\ end', -42, true, Uint8Array.of(0, 0x5c, 0xff), '2001:db8::1'],
      [null, 2 ** 53 - 1, false, null, '10.0.0.1'],
      ['grüß 🌍', 0, null, Uint8Array.of(), null],
      ['USER \0\0 end', 1, null, null, null],
    ];
    await d.ensureMarkers();
    await d.insert(cols, rows, 'm1', []);
    await d.close();
    const got = psql(DB, "SELECT json_agg(json_build_array(s, n, b, encode(raw, 'hex'), host(addr)) ORDER BY id) FROM t");
    assert.deepEqual(JSON.parse(got), [
      ['tab\there, newline\nthere, cr\r, backslash \\N \\ end', -42, true, '005cff', '2001:db8::1'],
      [null, 2 ** 53 - 1, false, null, '10.0.0.1'],
      ['grüß 🌍', 0, null, '', null],
      ['USER \\x00\\x00 end', 1, null, null, null],
    ]);
    assert.equal(psql(DB, 'SELECT id FROM specter_batches').trim(), 'm1');
  });
});
