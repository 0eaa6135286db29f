/**
 * The built-in plugins, by name; each entry loads its module on first use.
 * The core imports no plugin: bin/specter.ts hands these to the loader.
 * A new plugin is one folder and one line here.
 */
import type { PluginDefinition, SourceDefinition } from 'specter/plugin';

type Loader = () => Promise<{ default: PluginDefinition }>;

export const builtins: { readonly [name: string]: Loader } = {
  BASE: () => import('./input/BASE/index.js'),
  LOCAL: () => import('./input/LOCAL/index.js'),
  PWSNIFF: () => import('./input/PWSNIFF/index.js'),
  LOGEMU: () => import('./output/LOGEMU/index.js'),
  OPRINT: () => import('./output/OPRINT/index.js'),
  PCAP: () => import('./output/PCAP/index.js'),
  JSON: () => import('./output/JSON/index.js'),
  EXEC: () => import('./output/EXEC/index.js'),
  SYSLOG: () => import('./output/SYSLOG/index.js'),
  SQLITE3: () => import('./output/SQLITE3/index.js'),
  PGSQL: () => import('./output/PGSQL/index.js'),
  MYSQL: () => import('./output/MYSQL/index.js'),
  IPFIX: () => import('./output/IPFIX/index.js'),
  NATS: () => import('./output/NATS/index.js'),
};

/** Built-in sources a block names with `source NAME` (the default, the kernel NFLOG group, is in src/nflog/). */
export const builtinSources: { readonly [name: string]: () => Promise<{ default: SourceDefinition }> } = {
  NATS: () => import('./source/NATS/index.js'),
  NFCT: () => import('./source/NFCT/index.js'),
  NFACCT: () => import('./source/NFACCT/index.js'),
};
