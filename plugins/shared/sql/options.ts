/** Options every server SQL output has, named with its prefix (pgsql, mysql). */
import type { OptionSpecs, OptionValuesOf } from 'specter/plugin';
import type { SqlOptions } from './sql-output.js';

const SQL_OPTIONS = {
  ignore: { type: 'bool', default: false, description: 'leave out columns that map to no key instead of refusing to start' },
  label: { type: 'int', default: 0, description: 'value of a raw_label column (ulogd2 tables)' },
  batch: { type: 'int', default: 1000 as number, min: 1, max: 10000, description: 'rows per INSERT and transaction at most' },
  buffer: {
    type: 'int',
    default: 100000,
    min: 1,
    description: 'rows kept in memory while the database is away or slower than the traffic; more wait in files in the spool directory',
  },
  buffersize: {
    type: 'size',
    default: 64 * 1024 * 1024,
    min: 64 * 1024,
    description: 'bytes those rows may take in memory at most (whichever limit comes first)',
  },
  overflow: {
    type: 'enum',
    default: 'dropnewest',
    values: ['dropnewest', 'dropoldest'],
    description: 'which rows go when the buffer is full (every one is counted)',
  },
  spooldir: {
    type: 'string',
    default: '/var/lib/specter/spool',
    description: 'where rows beyond the memory buffer, rows not yet written at exit, and rows the database refused are kept; checked writable at start',
  },
  spoolmax: {
    type: 'size',
    default: 256 * 1024 * 1024,
    description: 'bytes of waiting rows on disk at most (while running and at exit); rows beyond it are dropped and counted',
  },
} as const satisfies OptionSpecs;

type SqlSpecs = typeof SQL_OPTIONS;
/** The SQL options named with prefix P: SqlOptionSpecs<'pgsql'> has pgsqlbatch, pgsqlspooldir, ... */
export type SqlOptionSpecs<P extends string> = { readonly [K in keyof SqlSpecs as `${P}${K}`]: SqlSpecs[K] };

/** The SQL option table with prefix `p`, for a definition's options (with the output's own `batch` default); ctx.options then types each one. */
export function sqlOptionSpecs<P extends string>(p: P, batch = SQL_OPTIONS.batch.default): SqlOptionSpecs<P> {
  // Object.fromEntries cannot carry the prefixed names into the type; SqlOptionSpecs states them.
  return Object.fromEntries(
    Object.entries(SQL_OPTIONS).map(([name, spec]) => [`${p}${name}`, name === 'batch' ? { ...spec, default: batch } : spec]),
  ) as SqlOptionSpecs<P>;
}

/** The SQL options of an output with prefix `p`, read from its typed ctx.options. */
export function sqlOptions<P extends string>(p: P, options: OptionValuesOf<SqlOptionSpecs<P>>): Omit<SqlOptions, 'table'> {
  // TypeScript cannot look up `${P}batch` in a mapped type while P is generic: the values are
  // taken back to their unprefixed names, whose types the table gives.
  const prefixed: { readonly [name: string]: unknown } = options;
  const o = Object.fromEntries(Object.keys(SQL_OPTIONS).map((name) => [name, prefixed[`${p}${name}`]])) as OptionValuesOf<SqlSpecs>;
  return {
    prefix: p,
    ignoreUnknown: o.ignore,
    label: o.label,
    batch: o.batch,
    buffer: o.buffer,
    bufferBytes: o.buffersize,
    dropOldest: o.overflow === 'dropoldest',
    spoolDir: o.spooldir,
    spoolMax: o.spoolmax,
  };
}

/** SQL identifiers come from the config: only plain names, so they can be quoted safely. */
export function plainIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(s);
}
