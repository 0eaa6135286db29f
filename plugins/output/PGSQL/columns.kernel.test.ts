/** PGSQL's column rule against the machine's PostgreSQL: ulogd2's flat schema as Debian ships it, and DEFAULT columns. */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { fillsUlogd2Flat, writesDefaultedColumns } from '../../shared/sql/column-cases.js';

const SOCKET_DIR = '/var/run/postgresql';
const psql = (db: string, sql: string, file = false) =>
  execFileSync('psql', ['-h', SOCKET_DIR, '-U', 'postgres', '-d', db, '-qAtF', '\t', '-v', 'ON_ERROR_STOP=1', ...(file ? ['-f', '-'] : ['-c', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
const config = (db: string, table: string) => ` pgsqlhost ${SOCKET_DIR}\n pgsqldb ${db}\n pgsqluser postgres\n pgsqltable ${table}`;
const drop = (db: string) => {
  psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
};

describe('PGSQL columns', { timeout: 120000 }, () => {
  it("fills ulogd2's flat schema (pgsql-ulogd2-flat.sql, loaded unchanged) from TCP, UDP, ICMP and IPv6 packets", () =>
    fillsUlogd2Flat({
      plugin: 'PGSQL',
      schemaFile: 'pgsql-ulogd2-flat.sql',
      load(db, sql) {
        psql('postgres', `CREATE DATABASE ${db}`);
        psql(db, sql, true);
        return config(db, 'ulog2');
      },
      columns: (db) =>
        psql(
          db,
          "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'ulog2' ORDER BY ordinal_position",
        )
          .trim()
          .split('\n')
          .map((l) => l.split('\t') as [string, string]),
      rows: (db) =>
        psql(db, 'SELECT row_to_json(u) FROM ulog2 u')
          .split('\n')
          .filter((l) => l !== '')
          .map((l) => JSON.parse(l)),
      bool: (v) => v,
      drop,
    }));

  it("writes the columns a key maps to whatever their DEFAULT; identity, generated and unmapped defaulted columns are the server's", () =>
    writesDefaultedColumns(
      {
        plugin: 'PGSQL',
        trueText: 't',
        setup(db, table) {
          psql('postgres', `CREATE DATABASE ${db}`);
          psql(db, table);
          return config(db, 'ulog');
        },
        query: (db, sql) =>
          psql(db, sql)
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => l.split('\t')),
        drop,
      },
      `CREATE TABLE ulog (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, oob_prefix varchar(32) DEFAULT 'none',
    oob_in varchar(32) DEFAULT NULL, tcp_dport integer DEFAULT 0, ip_saddr varchar(45) DEFAULT '0.0.0.0', tcp_syn boolean DEFAULT false,
    oob_time_sec timestamptz DEFAULT '2000-01-01 00:00:00+00', seen timestamptz DEFAULT now(), note text DEFAULT 'kept',
    dport2 integer GENERATED ALWAYS AS (tcp_dport * 2) STORED)`,
    ));
});
