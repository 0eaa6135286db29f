/** The SQL fault-injection suite (plugins/shared/sql/fault-cases.ts) against the machine's PostgreSQL. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { cutsAndRefusals, fullSpoolDisk, killedDuringReplay, stalledLink, type FaultServer } from '../../shared/sql/fault-cases.js';
import PGSQL from './index.js';

const psql = (db: string, sql: string) =>
  execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', db, '-At', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' }).trim();

const server: FaultServer = {
  plugin: 'PGSQL',
  socket: '/var/run/postgresql/.s.PGSQL.5432',
  create(db) {
    psql('postgres', `CREATE DATABASE ${db}`);
    psql(db, 'CREATE TABLE ulog (id serial PRIMARY KEY, oob_prefix text, udp_dport integer, oob_seq_local bigint CHECK (oob_seq_local % 199 <> 13))');
  },
  drop: (db) => void psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`),
  count: (db, sql) => Number(psql(db, sql)),
  proxied(db, dir) {
    const sockdir = path.join(dir, 'pg');
    fs.mkdirSync(sockdir, { recursive: true });
    return { sock: path.join(sockdir, '.s.PGSQL.5432'), conf: ` pgsqlhost ${sockdir}\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ulog\n pgsqltimeout 5` };
  },
  rowsMark: (chunk) => chunk.includes('COPY "public"."ulog"'),
  killSessions: (db) => void psql('postgres', `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '${db}' AND pid <> pg_backend_pid()`),
};

describe('PGSQL under faults', { timeout: 240000 }, () => {
  it('loses and duplicates nothing when links are cut around COMMIT, sessions are killed and rows are refused', () => cutsAndRefusals(server));
  it('counts what a full spool disk cannot take and writes the rest', () => fullSpoolDisk(server));
  it('replays a spool exactly once though the daemon is killed at each step of a batch', () => killedDuringReplay(server));
  it('gives up on a connection that stops answering after pgsqltimeout and writes the batch on a new one', () =>
    stalledLink(server, PGSQL, (db, port, spool) => ({
      pgsqlhost: '127.0.0.1',
      pgsqlport: port,
      pgsqluser: 'postgres',
      pgsqldb: db,
      pgsqltable: 'ulog',
      pgsqltimeout: 1,
      pgsqlspooldir: spool,
    })));
});
