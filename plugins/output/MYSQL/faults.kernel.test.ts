/** The SQL fault-injection suite (plugins/shared/sql/fault-cases.ts) against the machine's MariaDB. */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cutsAndRefusals, fullSpoolDisk, killedDuringReplay, stalledLink, type FaultServer } from '../../shared/sql/fault-cases.js';
import MYSQL from './index.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const mysql = (db: string, sql: string) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, '-e', sql], { encoding: 'utf8' }).trim();

const server: FaultServer = {
  plugin: 'MYSQL',
  socket: SOCKET,
  create(db) {
    mysql('', `CREATE DATABASE ${db}`);
    mysql(
      db,
      'CREATE TABLE ulog (id int AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(64), udp_dport int, oob_seq_local bigint CHECK (oob_seq_local % 199 <> 13))',
    );
  },
  drop: (db) => void mysql('', `DROP DATABASE IF EXISTS ${db}`),
  count: (db, sql) => Number(mysql(db, sql)),
  proxied(db, dir) {
    const sock = path.join(dir, 'my.sock');
    return { sock, conf: ` mysqlsocket ${sock}\n mysqldb ${db}\n mysqluser root\n mysqltable ulog` };
  },
  // The batch's rows: COM_QUERY with LOAD DATA, or COM_STMT_EXECUTE (the prepared INSERT a refused batch goes again as).
  rowsMark: (chunk) => chunk.length > 4 && (chunk[4] === 0x17 || (chunk[4] === 0x03 && chunk.includes('LOAD DATA'))),
  killSessions(db) {
    const ids = mysql('', `SELECT id FROM information_schema.PROCESSLIST WHERE db = '${db}' AND id <> CONNECTION_ID()`).split('\n').filter(Boolean);
    for (const id of ids)
      try {
        mysql('', `KILL CONNECTION ${id}`);
      } catch {
        /* gone already */
      }
  },
};

describe('MYSQL under faults', { timeout: 240000 }, () => {
  it('loses and duplicates nothing when links are cut around COMMIT, sessions are killed and rows are refused', () => cutsAndRefusals(server));
  it('counts what a full spool disk cannot take and writes the rest', () => fullSpoolDisk(server));
  it('replays a spool exactly once though the daemon is killed at each step of a batch', () => killedDuringReplay(server));
  it('gives up on a connection that stops answering after mysqltimeout and writes the batch on a new one', () =>
    stalledLink(server, MYSQL, (db, port, spool) => ({
      mysqlhost: '127.0.0.1',
      mysqlport: port,
      mysqluser: 'root',
      mysqldb: db,
      mysqltable: 'ulog',
      mysqltimeout: 1,
      mysqlspooldir: spool,
    })));
});
