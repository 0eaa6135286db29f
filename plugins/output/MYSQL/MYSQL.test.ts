/** MYSQL against the machine's MariaDB, through the kernel path (Unix socket from the namespace). */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { waitFor } from '../../../test/netns.js';
import { fillsShippedTable, fillsTable, keepsRowsWhileDown, survivesRestart, type Server } from '../../shared/sql/kernel-cases.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const mysql = (db: string, sql: string) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, '-e', sql], { encoding: 'utf8' });

const server: Server = {
  plugin: 'MYSQL',
  shipped: 'mysql.table',
  trueText: '1',
  tableSql: `CREATE TABLE ulog (id int unsigned AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(64), ip_saddr varchar(45), ip_daddr int unsigned,
    ip_saddr_bin binary(16), ip_protocol tinyint unsigned, tcp_dport smallint unsigned, udp_dport smallint unsigned, oob_in varchar(16),
    oob_seq_local int unsigned);
    CREATE VIEW ulog_view AS SELECT oob_prefix, ip_saddr, ip_daddr, LOWER(HEX(ip_saddr_bin)) AS ip_saddr_bin_hex,
    ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog;`,
  setup(db, table) {
    mysql('', `CREATE DATABASE ${db}`);
    mysql(db, table);
    return ` mysqlsocket ${SOCKET}\n mysqldb ${db}\n mysqluser root\n mysqltable ulog`;
  },
  query: (db, sql) =>
    mysql(db, sql)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t').map((v) => (v === 'NULL' ? '' : v))),
  unreachable: (db) => ` mysqlsocket /nonexistent.sock\n mysqldb ${db}\n mysqluser root\n mysqltable ulog`,
  restart() {
    execFileSync('mariadb-admin', ['-uroot', `--socket=${SOCKET}`, 'shutdown']);
    execFileSync('start-stop-daemon', ['--start', '--oknodo', '--background', '--exec', '/usr/sbin/mariadbd']);
  },
  drop(db) {
    mysql('', `DROP DATABASE IF EXISTS ${db}`);
  },
};

describe('MYSQL', { timeout: 120000 }, () => {
  it('fills a table from real traffic, column by column, IPv4 and IPv6', () => fillsTable(server));
  it(`fills the shipped doc/${server.shipped}`, () => fillsShippedTable(server));
  it('keeps rows in the spool file at SIGTERM while the server is away and writes them after the next start', () => keepsRowsWhileDown(server));
  it('loses and duplicates nothing when MariaDB restarts mid-stream', async () => {
    await survivesRestart(server);
    await waitFor(
      () => {
        try {
          mysql('', 'SELECT 1');
          return true;
        } catch {
          return false;
        }
      },
      30000,
      'MariaDB back',
    );
  });
});
