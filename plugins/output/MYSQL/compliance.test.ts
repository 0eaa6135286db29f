/** MYSQL against the component contract, on the machine's MariaDB. */
import { execFileSync } from 'node:child_process';
import { complianceCases } from '../../shared/sql/compliance-cases.js';

const SOCKET = '/run/mysqld/mysqld.sock';
const mysql = (db: string, sql: string) => execFileSync('mariadb', ['-uroot', `--socket=${SOCKET}`, '-N', '-B', db, '-e', sql], { encoding: 'utf8' });

complianceCases({
  plugin: 'MYSQL',
  checkedTable: 'CREATE TABLE ulog (oob_mark bigint CHECK (oob_mark % 10 <> 3), ip_saddr_str varchar(64))',
  create(db, table) {
    mysql('', `DROP DATABASE IF EXISTS ${db}`);
    mysql('', `CREATE DATABASE ${db}`);
    mysql(db, table);
    return { mysqlsocket: SOCKET, mysqldb: db, mysqluser: 'root', mysqltable: 'ulog' };
  },
  unreachable: (db) => ({ mysqlsocket: '/nonexistent.sock', mysqldb: db, mysqluser: 'root', mysqltable: 'ulog' }),
  count: (db, where = '') => Number(mysql(db, `SELECT count(*) FROM ulog ${where}`).trim()),
  drop: (db) => {
    mysql('', `DROP DATABASE IF EXISTS ${db}`);
  },
});
