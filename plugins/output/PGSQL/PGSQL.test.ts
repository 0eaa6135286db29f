/** PGSQL against the machine's PostgreSQL, through the kernel path (Unix socket from the namespace). */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fillsShippedTable, fillsTable, keepsRowsWhileDown, survivesRestart, type Server } from '../../shared/sql/kernel-cases.js';

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-AtF', '\t', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });

const server: Server = {
  plugin: 'PGSQL',
  shipped: 'pgsql.table',
  trueText: 't',
  tableSql: `CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix text, ip_saddr inet, ip_daddr bigint, ip_saddr_bin bytea,
    ip_protocol smallint, tcp_dport integer, udp_dport integer, oob_in text, oob_seq_local bigint);
    CREATE VIEW ulog_view AS SELECT oob_prefix, host(ip_saddr) AS ip_saddr, ip_daddr, encode(ip_saddr_bin, 'hex') AS ip_saddr_bin_hex,
    ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog;`,
  setup(db, table) {
    psql('postgres', `CREATE DATABASE ${db}`);
    psql(db, table);
    return ` pgsqlhost /var/run/postgresql\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ulog`;
  },
  query: (db, sql) => psql(db, sql).split('\n').filter((l) => l !== '').map((l) => l.split('\t')),
  unreachable: (db) => ` pgsqlhost /nonexistent\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ulog`,
  restart() {
    const version = execFileSync('ls', ['/etc/postgresql'], { encoding: 'utf8' }).trim().split('\n')[0];
    execFileSync('pg_ctlcluster', ['--skip-systemctl-redirect', version, 'main', 'restart'], { stdio: 'ignore' });
  },
  drop(db) {
    psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
  },
};

describe('PGSQL', { timeout: 120000 }, () => {
  it('fills a table from real traffic, column by column, IPv4 and IPv6', () => fillsTable(server));
  it(`fills the shipped doc/${server.shipped}`, () => fillsShippedTable(server));
  it('keeps rows in the spool file at SIGTERM while the server is away and writes them after the next start', () => keepsRowsWhileDown(server));
  it('loses and duplicates nothing when PostgreSQL restarts mid-stream', () => survivesRestart(server));
});
