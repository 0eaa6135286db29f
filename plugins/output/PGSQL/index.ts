/** PGSQL: packets into a PostgreSQL table whose columns choose the keys. */
import { defineOutput } from '../../../src/core/plugin.js';
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
    ...sqlOptionSpecs('pgsql'),
  },
  create(ctx) {
    const o = ctx.options;
    for (const opt of ['pgsqltable', 'pgsqlschema']) if (!plainIdentifier(String(o[opt]))) ctx.fail('expected a plain SQL name', opt);
    const config = o.pgsqlconninfo
      ? { connectionString: String(o.pgsqlconninfo) }
      : { host: String(o.pgsqlhost), port: o.pgsqlport as number, user: String(o.pgsqluser), password: String(o.pgsqlpass), database: String(o.pgsqldb) };
    return sqlOutput(ctx, () => new PgDriver({ ...config, connectionTimeoutMillis: 3000 }, String(o.pgsqlschema), String(o.pgsqltable)), { ...sqlOptions('pgsql', o), table: String(o.pgsqltable) });
  },
});
