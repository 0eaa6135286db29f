/** PGSQL against the component contract, on the machine's PostgreSQL. */
import { execFileSync } from 'node:child_process';
import { complianceCases } from '../../shared/sql/compliance-cases.js';

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

complianceCases({
  plugin: 'PGSQL',
  checkedTable: 'CREATE TABLE ulog (oob_mark bigint CHECK (oob_mark % 10 <> 3), ip_saddr_str varchar(64))',
  create(db, table) {
    psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    psql('postgres', `CREATE DATABASE ${db}`);
    psql(db, table);
    return { pgsqlhost: '/var/run/postgresql', pgsqldb: db, pgsqluser: 'postgres', pgsqltable: 'ulog' };
  },
  unreachable: (db) => ({ pgsqlhost: '/nonexistent', pgsqldb: db, pgsqluser: 'postgres', pgsqltable: 'ulog' }),
  count: (db, where = '') => Number(psql(db, `SELECT count(*) FROM ulog ${where}`).trim()),
  drop: (db) => {
    psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  },
});
