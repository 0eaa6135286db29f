/** MYSQL: packets into a MySQL or MariaDB table whose columns choose the keys. */
import { defineOutput } from 'specter/plugin';
import { natLookupCommand } from '../../shared/sql/nat-lookup.js';
import { mysqlFlowTable } from '../../shared/sql/nat-lookup-tables.js';
import { plainIdentifier, sqlOptions, sqlOptionSpecs } from '../../shared/sql/options.js';
import { sqlOutput } from '../../shared/sql/sql-output.js';
import { MysqlDriver } from './driver.js';

export default defineOutput({
  name: 'MYSQL',
  description: 'packets into a MySQL or MariaDB table, columns mapped to keys by name',
  options: {
    mysqldb: { type: 'string', default: 'specter', description: 'database' },
    mysqltable: { type: 'string', default: 'ulog', description: 'table' },
    mysqlhost: { type: 'string', default: 'localhost', description: 'host name or address (ignored with mysqlsocket)' },
    mysqlport: { type: 'int', default: 3306, min: 1, max: 65535, description: 'port' },
    mysqlsocket: { type: 'string', description: 'Unix socket path, e.g. /run/mysqld/mysqld.sock' },
    mysqluser: { type: 'string', default: 'specter', description: 'user' },
    mysqlpass: { type: 'string', default: '', description: 'password' },
    mysqltimeout: {
      type: 'int',
      default: 30,
      min: 1,
      max: 3600,
      description: 'seconds to wait for any answer of the server (a batch, a connection); then the connection is dropped and the batch sent again on a new one',
    },
    mysqlkeepalive: {
      type: 'int',
      default: 60,
      min: 0,
      max: 7200,
      description: 'seconds a connection may be idle before TCP keepalive probes check the link (0: off)',
    },
    ...sqlOptionSpecs('mysql'),
  },
  create(ctx) {
    const o = ctx.options;
    for (const opt of ['mysqltable', 'mysqldb'] as const) if (!plainIdentifier(o[opt])) ctx.fail('expected a plain SQL name', opt);
    const timeout = o.mysqltimeout * 1000;
    const keepalive = o.mysqlkeepalive * 1000;
    const config = {
      ...(o.mysqlsocket ? { socketPath: o.mysqlsocket } : { host: o.mysqlhost, port: o.mysqlport }),
      user: o.mysqluser,
      password: o.mysqlpass,
      database: o.mysqldb,
      connectTimeout: Math.min(3000, timeout),
      enableKeepAlive: keepalive > 0,
      keepAliveInitialDelay: keepalive,
    };
    return sqlOutput(ctx, () => new MysqlDriver(config, o.mysqltable, (msg) => ctx.log.warn(msg), timeout), {
      ...sqlOptions('mysql', o),
      table: o.mysqltable,
    });
  },
  commands: {
    'nat-lookup': (o) =>
      natLookupCommand(() =>
        mysqlFlowTable(
          {
            ...(o.mysqlsocket ? { socketPath: o.mysqlsocket } : { host: o.mysqlhost, port: o.mysqlport }),
            user: o.mysqluser,
            password: o.mysqlpass,
            database: o.mysqldb,
          },
          o.mysqltable,
          `database ${o.mysqldb} at ${o.mysqlsocket ?? `${o.mysqlhost}:${o.mysqlport}`}`,
        ),
      ),
  },
});
