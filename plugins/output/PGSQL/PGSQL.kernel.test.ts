/** PGSQL against the machine's PostgreSQL, through the kernel path (Unix socket from the namespace). */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, ROOT, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
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
  query: (db, sql) =>
    psql(db, sql)
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => l.split('\t')),
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

describe('PGSQL during an outage', { timeout: 60000 }, () => {
  it('keeps rows beyond the memory buffer on disk and writes them all when the server is back', async () => {
    const dir = tempDir();
    const db = `specter_o${process.pid}_${Date.now() % 100000}`;
    const sockdir = path.join(dir, 'pg');
    fs.mkdirSync(sockdir);
    const ns = new NetNs('spt-outage');
    let daemon: Daemon | undefined;
    try {
      psql('postgres', `CREATE DATABASE ${db}`);
      psql(db, 'CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix text, udp_sport integer, oob_seq_local bigint)');
      ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9300 log group 6 prefix "outage: "\n }\n}\n');
      const gen = path.join(dir, 'udpflood');
      execFileSync('cc', ['-O2', '-o', gen, path.join(ROOT, 'bench', 'udpflood.c')]);
      // The socket directory is empty: the server is away until its socket shows up there.
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n}\n6 {\n plugin BASE\n plugin PGSQL\n pgsqlhost ${sockdir}\n pgsqldb ${db}\n pgsqluser postgres\n pgsqlbuffer 50\n pgsqlspooldir ${dir}/spool\n}\n`,
        ),
      );
      await daemon.started();
      ns.exec(gen, ['127.0.0.1', '9300', '400', '2000', '16']);
      await waitFor(() => /further rows wait in/.test(daemon!.stderr), 5000, 'rows on disk');
      assert.ok(fs.readdirSync(path.join(dir, 'spool')).some((f) => f.endsWith('.rows')));
      fs.symlinkSync('/var/run/postgresql/.s.PGSQL.5432', path.join(sockdir, '.s.PGSQL.5432'));
      await waitFor(() => psql(db, 'SELECT count(*) FROM ulog').trim() === '400', 20000, 'all 400 rows');
      assert.equal(psql(db, 'SELECT count(DISTINCT oob_seq_local) FROM ulog').trim(), '400');
      await waitFor(() => fs.readdirSync(path.join(dir, 'spool')).length === 0, 5000, 'the queue file to go');
    } finally {
      await daemon?.stop();
      ns.delete();
      psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
