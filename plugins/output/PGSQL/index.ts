/** PGSQL: packets into a PostgreSQL table whose columns choose the keys. */
import { defineOutput } from 'specter/plugin';
import { natLookupCommand } from '../../shared/sql/nat-lookup.js';
import { pgFlowTable } from '../../shared/sql/nat-lookup-tables.js';
import { plainIdentifier, sqlOptions, sqlOptionSpecs } from '../../shared/sql/options.js';
import { sqlOutput } from '../../shared/sql/sql-output.js';
import { PgDriver } from './driver.js';

export default defineOutput({
  name: 'PGSQL',
  description: 'packets into a PostgreSQL table, columns mapped to keys by name',
  options: {
    pgsqldb: { type: 'string', default: 'specter', description: 'database' },
    pgsqltable: { type: 'string', default: 'ulog', description: 'table' },
    pgsqlschema: { type: 'string', default: 'public', description: 'schema of the table' },
    pgsqlhost: { type: 'string', default: '/var/run/postgresql', description: 'host name, address, or the directory of the Unix socket' },
    pgsqlport: { type: 'int', default: 5432, min: 1, max: 65535, description: 'port' },
    pgsqluser: { type: 'string', default: 'specter', description: 'user' },
    pgsqlpass: { type: 'string', default: '', description: 'password' },
    pgsqlconninfo: { type: 'string', description: 'a connection string (postgresql://user:pass@host/db); overrides host, port, user, password and db' },
    pgsqltimeout: {
      type: 'int',
      default: 30,
      min: 1,
      max: 3600,
      description: 'seconds to wait for any answer of the server (a batch, a connection); then the connection is dropped and the batch sent again on a new one',
    },
    pgsqlkeepalive: {
      type: 'int',
      default: 60,
      min: 0,
      max: 7200,
      description: 'seconds a connection may be idle before TCP keepalive probes check the link (0: off)',
    },
    // COPY takes large batches cheaply: 5,000 rows per transaction carried a third more rows a second than 1,000 (doc/performance.md).
    ...sqlOptionSpecs('pgsql', 5000),
  },
  create(ctx) {
    const o = ctx.options;
    for (const opt of ['pgsqltable', 'pgsqlschema'] as const) if (!plainIdentifier(o[opt])) ctx.fail('expected a plain SQL name', opt);
    const config = o.pgsqlconninfo
      ? { connectionString: o.pgsqlconninfo }
      : { host: o.pgsqlhost, port: o.pgsqlport, user: o.pgsqluser, password: o.pgsqlpass, database: o.pgsqldb };
    const timeout = o.pgsqltimeout * 1000;
    const keepalive = o.pgsqlkeepalive * 1000;
    const link = {
      connectionTimeoutMillis: Math.min(3000, timeout),
      keepAlive: keepalive > 0,
      keepAliveInitialDelayMillis: keepalive,
      // The server also stops a statement that runs longer (a lock held elsewhere): an error, and the batch is retried.
      statement_timeout: timeout,
    };
    return sqlOutput(ctx, () => new PgDriver({ ...config, ...link }, o.pgsqlschema, o.pgsqltable, timeout), { ...sqlOptions('pgsql', o), table: o.pgsqltable });
  },
  commands: {
    'nat-lookup': (o) =>
      natLookupCommand(() =>
        pgFlowTable(
          o.pgsqlconninfo
            ? { connectionString: o.pgsqlconninfo }
            : { host: o.pgsqlhost, port: o.pgsqlport, user: o.pgsqluser, password: o.pgsqlpass, database: o.pgsqldb },
          o.pgsqlschema,
          o.pgsqltable,
          o.pgsqltimeout * 1000,
          o.pgsqlconninfo ? 'pgsqlconninfo' : `database ${o.pgsqldb} at ${o.pgsqlhost}`,
        ),
      ),
  },
});
