/** Options every SQL output has, with its own prefix (pgsql, mysql). */
import type { OptionSpecs, OptionValues } from 'specter/plugin';
import type { SqlOptions } from './sql-output.js';

export function sqlOptionSpecs(p: string): OptionSpecs {
  return {
    [`${p}ignore`]: { type: 'bool', default: false, description: 'leave out columns that map to no key instead of refusing to start' },
    [`${p}label`]: { type: 'int', default: 0, description: 'value of a raw_label column (ulogd2 tables)' },
    [`${p}batch`]: { type: 'int', default: 1000, min: 1, max: 10000, description: 'rows per INSERT and transaction at most' },
    [`${p}buffer`]: { type: 'int', default: 100000, min: 1, description: 'rows kept in memory while the database is away or slower than the traffic; more wait in files in the spool directory' },
    [`${p}buffersize`]: { type: 'size', default: 64 * 1024 * 1024, min: 64 * 1024, description: 'bytes those rows may take in memory at most (whichever limit comes first)' },
    [`${p}overflow`]: { type: 'enum', default: 'dropnewest', values: ['dropnewest', 'dropoldest'], description: 'which rows go when the buffer is full (every one is counted)' },
    [`${p}spooldir`]: { type: 'string', default: '/var/lib/specter/spool', description: 'where rows beyond the memory buffer, rows not yet written at exit, and rows the database refused are kept; checked writable at start' },
    [`${p}spoolmax`]: { type: 'size', default: 256 * 1024 * 1024, description: 'bytes of waiting rows on disk at most (while running and at exit); rows beyond it are dropped and counted' },
  };
}

export function sqlOptions(p: string, o: OptionValues): Omit<SqlOptions, 'table'> {
  return {
    prefix: p,
    ignoreUnknown: o[`${p}ignore`] as boolean,
    label: o[`${p}label`] as number,
    batch: o[`${p}batch`] as number,
    buffer: o[`${p}buffer`] as number,
    bufferBytes: o[`${p}buffersize`] as number,
    dropOldest: o[`${p}overflow`] === 'dropoldest',
    spoolDir: String(o[`${p}spooldir`]),
    spoolMax: o[`${p}spoolmax`] as number,
  };
}

/** SQL identifiers come from the config: only plain names, so they can be quoted safely. */
export function plainIdentifier(s: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_$]*$/.test(s);
}
