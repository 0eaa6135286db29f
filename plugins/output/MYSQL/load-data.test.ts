/** The LOAD DATA text the MYSQL driver streams, read back by the machine's MariaDB exactly as given. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import type { Column } from '../../shared/sql/columns.js';
import { MysqlDriver } from './driver.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const DB = `specter_load_${process.pid}`;
const mysql = (sql: string, db = DB) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', '-r', db, '-e', sql], { encoding: 'utf8' }).trim();
const config = { socketPath: SOCKET, user: 'root', database: DB };

const TYPES: Array<[string, string]> = [
  ['s', 'text CHARACTER SET utf8mb4'],
  ['l', 'varchar(64) CHARACTER SET latin1'],
  ['n', 'bigint'],
  ['b', 'tinyint(1)'],
  ['raw', 'varbinary(64)'],
  ['bin16', 'binary(16)'],
  ['t', 'datetime'],
];
const cols: Column[] = TYPES.map(([name, type]) => ({ name, type, generated: false }));

/** The table's rows as JSON (-r: the client leaves tabs and backslashes alone), bytes as hex, in insertion order. */
function readBack(table: string): unknown[][] {
  const got = mysql(`SELECT JSON_ARRAYAGG(JSON_ARRAY(s, l, n, b, HEX(raw), HEX(bin16), t)) FROM (SELECT * FROM ${table} ORDER BY id) x`);
  return JSON.parse(got) as unknown[][];
}

/** Statements of a kind the driver's session ran (the server's own count). */
async function sessionCount(d: MysqlDriver, name: string): Promise<number> {
  const conn = (d as unknown as { conn: { query(sql: string): Promise<[Array<{ Value: string }>]> } }).conn;
  const [rows] = await conn.query(`SHOW SESSION STATUS LIKE '${name}'`);
  return Number(rows[0].Value);
}

describe('MYSQL LOAD DATA text', { timeout: 30000 }, () => {
  before(() => {
    mysql(`CREATE DATABASE ${DB}`, '');
    for (const t of ['t', 'u']) mysql(`CREATE TABLE ${t} (id int AUTO_INCREMENT PRIMARY KEY, ${TYPES.map(([n, ty]) => `${n} ${ty}`).join(', ')})`);
  });
  after(() => mysql(`DROP DATABASE IF EXISTS ${DB}`, ''));

  const rows: unknown[][] = [
    [
      'tab\there, newline\nthere, cr\r, backslash \\N \\ end',
      'tab\tnl\n\\',
      -42,
      true,
      Buffer.from([0, 0x5c, 0xff, 9, 10, 0x4e]),
      Buffer.alloc(16, 0xab),
      '2026-12-02T04:05:06.789',
    ],
    [null, null, 2 ** 53 - 1, false, null, null, null],
    ['grüß 🌍', 'grüß', 0, null, Buffer.alloc(0), null, '1999-01-01T00:00:00.000'],
    ['USER \0\0 end, ctrl-z \x1a', '', 1, null, null, null, null],
    ['\\N', '\\', -1, false, Buffer.from('\\N'), null, null],
  ];
  const expected = [
    ['tab\there, newline\nthere, cr\r, backslash \\N \\ end', 'tab\tnl\n\\', -42, 1, '005CFF090A4E', 'AB'.repeat(16), '2026-12-02 04:05:06'],
    [null, null, 2 ** 53 - 1, 0, null, null, null],
    ['grüß 🌍', 'grüß', 0, null, '', null, '1999-01-01 00:00:00'],
    ['USER \0\0 end, ctrl-z \x1a', '', 1, null, null, null, null],
    ['\\N', '\\', -1, 0, '5C4E', null, null],
  ];

  it('keeps tabs, newlines, backslashes, NULL apart from the text \\N, NUL, bytes, UTF-8 and Latin-1 columns, in one LOAD DATA', async () => {
    const d = new MysqlDriver(config, 't');
    await d.connect();
    await d.ensureMarkers();
    await d.insert(cols, rows, 'm1', []);
    // One bulk load that the server took without a warning: nothing went through the INSERT fallback.
    assert.equal(await sessionCount(d, 'Com_load'), 1);
    assert.equal(await sessionCount(d, 'Com_rollback'), 0);
    assert.equal(await sessionCount(d, 'Com_stmt_execute'), 1); // the marker
    await d.close();
    assert.deepEqual(readBack('t'), expected);
    assert.equal(mysql('SELECT id FROM specter_batches'), 'm1');
  });

  it('writes the same rows by INSERT where the client does not allow LOAD DATA LOCAL, and says so once', async () => {
    const notices: string[] = [];
    const d = new MysqlDriver({ ...config, flags: ['-LOCAL_FILES'] }, 'u', (m) => notices.push(m));
    await d.connect();
    await d.insert(cols, rows.slice(0, 2), 'u1', []);
    await d.insert(cols, rows.slice(2), 'u2', ['u1']);
    await d.close();
    assert.equal(notices.length, 1);
    assert.match(notices[0], /LOAD DATA LOCAL INFILE.*INSERT/);
    assert.deepEqual(readBack('u'), expected);
    assert.equal(mysql("SELECT GROUP_CONCAT(id) FROM specter_batches WHERE id LIKE 'u%'"), 'u2');
  });
});
