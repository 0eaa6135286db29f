/**
 * The SQLite side of the column mapping: reading a table's columns, and the
 * table SQLITE3 creates when the database or the table is missing.
 */
import Database from 'better-sqlite3';
import type { Key, KeyType } from 'specter/plugin';
import { columnName, isValueDefault, type Column } from '../../shared/sql/columns.js';

/**
 * The table's columns, or null when there is no such table. Opened read-only:
 * --check calls this. PRAGMA table_info leaves generated columns out, so they
 * are never written.
 */
export function readColumns(file: string, table: string): Column[] | null {
  const db = new Database(file, { readonly: true, fileMustExist: true });
  try {
    const info = db.prepare(`PRAGMA table_info("${table}")`).all() as Array<{ name: string; type: string; pk: number; dflt_value: string | null }>;
    if (info.length === 0) return null;
    const pkCount = info.filter((c) => c.pk > 0).length;
    return info.map((c) => ({
      name: c.name,
      type: c.type,
      // An INTEGER PRIMARY KEY is the rowid: SQLite numbers it itself.
      generated: pkCount === 1 && c.pk === 1 && c.type.toUpperCase() === 'INTEGER',
      hasDefault: isValueDefault(c.dflt_value),
    }));
  } finally {
    db.close();
  }
}

/** Declared types as doc/sqlite3.table has them: addresses and MACs as text, bytes as BLOB. */
function sqliteType(t: KeyType): string {
  switch (t) {
    case 'raw':
      return 'BLOB';
    case 'ipv4':
    case 'ipv6':
    case 'ipaddr':
    case 'mac':
    case 'string':
    case 'time':
      return 'TEXT';
    default:
      return 'INTEGER';
  }
}

/** The columns of a table made for `keys`: an id numbered by SQLite, then one column per key. */
export function keyColumns(keys: readonly Key[]): Column[] {
  const seen = new Set<string>(['id']);
  const cols: Column[] = [{ name: 'id', type: 'INTEGER', generated: true }];
  for (const k of keys) {
    const name = columnName(k.name);
    if (seen.has(name)) continue;
    seen.add(name);
    cols.push({ name, type: sqliteType(k.type), generated: false });
  }
  return cols;
}

export function createTableSql(table: string, cols: readonly Column[]): string {
  const defs = cols.map((c) => (c.generated ? `"${c.name}" INTEGER PRIMARY KEY` : `"${c.name}" ${c.type}`));
  return `CREATE TABLE IF NOT EXISTS "${table}" (\n  ${defs.join(',\n  ')}\n)`;
}
