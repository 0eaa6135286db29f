/** MYSQL's column rule against the machine's MariaDB: ulogd2's flat schema as Debian ships it, and DEFAULT columns. */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fillsUlogd2Flat, writesDefaultedColumns } from '../../shared/sql/column-cases.js';

const SOCKET = '/run/mysqld/mysqld.sock';
/** Runs SQL through the mariadb client; as a file (stdin) it honours the client's own commands, such as `delimiter`. */
const mysql = (db: string, sql: string, file = false) =>
  execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, ...(file ? [] : ['-e', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
const config = (db: string, table: string) => ` mysqlsocket ${SOCKET}\n mysqldb ${db}\n mysqluser root\n mysqltable ${table}`;
const drop = (db: string) => {
  mysql('', `DROP DATABASE IF EXISTS ${db}`);
};
const columns = (db: string) =>
  mysql('', `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db}' AND TABLE_NAME = 'ulog2' ORDER BY ORDINAL_POSITION`)
    .trim()
    .split('\n')
    .map((l) => l.split('\t') as [string, string]);

describe('MYSQL columns', { timeout: 120000 }, () => {
  it("fills ulogd2's flat schema (mysql-ulogd2-flat.sql, loaded unchanged) from TCP, UDP, ICMP and IPv6 packets", () =>
    fillsUlogd2Flat({
      plugin: 'MYSQL',
      schemaFile: 'mysql-ulogd2-flat.sql',
      load(db, sql) {
        mysql('', `CREATE DATABASE ${db}`);
        mysql(db, sql, true);
        return config(db, 'ulog2');
      },
      columns,
      rows(db) {
        const fields = columns(db).map(([name, type]) => `'${name}', ${/binary|blob/.test(type) ? `LOWER(HEX(\`${name}\`))` : `\`${name}\``}`);
        return mysql(db, `SELECT JSON_OBJECT(${fields.join(', ')}) FROM ulog2`)
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l));
      },
      bool: (v) => (v ? 1 : 0),
      drop,
    }));

  it("writes the columns a key maps to whatever their DEFAULT; auto-increment, generated and unmapped defaulted columns are the server's", () =>
    writesDefaultedColumns(
      {
        plugin: 'MYSQL',
        trueText: '1',
        setup(db, table) {
          mysql('', `CREATE DATABASE ${db}`);
          mysql(db, table);
          return config(db, 'ulog');
        },
        query: (db, sql) =>
          mysql(db, sql)
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => l.split('\t')),
        drop,
      },
      `CREATE TABLE ulog (id int unsigned AUTO_INCREMENT PRIMARY KEY, oob_prefix varchar(32) DEFAULT 'none',
    oob_in varchar(32) DEFAULT NULL, tcp_dport smallint unsigned DEFAULT 0, ip_saddr varchar(45) DEFAULT '0.0.0.0', tcp_syn tinyint DEFAULT 0,
    oob_time_sec datetime DEFAULT '2000-01-01 00:00:00', seen datetime DEFAULT now(), note varchar(8) DEFAULT 'kept',
    dport2 int AS (tcp_dport * 2) STORED)`,
    ));
});
