/** MySQL and MariaDB through `mysql2`: one connection, prepared multi-row INSERT, one transaction per batch. */
import mysql from 'mysql2/promise';
import { integerRange, isValueDefault, type Column } from '../../shared/sql/columns.js';
import type { SqlDriver } from '../../shared/sql/sql-output.js';

const MAX_PARAMS = 65535;

/**
 * Errors about the rows rather than the connection, besides SQLSTATE classes
 * 22 and 23: ER_TRUNCATED_WRONG_VALUE_FOR_FIELD (1366) and
 * ER_INVALID_CHARACTER_STRING (1300) say HY000, as do MariaDB's
 * ER_CONSTRAINT_FAILED (4025, a CHECK) on some versions.
 */
const DATA_ERRNOS = new Set([1048, 1062, 1263, 1264, 1292, 1300, 1365, 1366, 1406, 1452, 1690, 3819, 4025]);

export class MysqlDriver implements SqlDriver {
  readonly describe: string;
  private conn: mysql.Connection | null = null;

  constructor(private readonly config: mysql.ConnectionOptions, private readonly table: string) {
    this.describe = `MySQL ${config.database}.${table}`;
  }

  async connect(): Promise<void> {
    const c = await mysql.createConnection(this.config);
    c.on('error', () => undefined); // wait_timeout and restarts show up as the next query's error
    this.conn = c;
  }

  async columns(): Promise<Column[]> {
    const [rows] = await this.conn!.query(
      `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, EXTRA AS extra, COLUMN_DEFAULT AS dflt FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, [this.config.database, this.table]);
    return (rows as Array<{ name: string; type: string; extra: string; dflt: string | null }>).map((c) => ({
      name: c.name,
      type: c.type,
      // EXTRA says "VIRTUAL GENERATED"/"STORED GENERATED" for generated columns, "DEFAULT_GENERATED" (MySQL 8) for mere defaults.
      generated: /auto_increment|(VIRTUAL|STORED) GENERATED/i.test(c.extra),
      hasDefault: isValueDefault(c.dflt),
      timeWithoutZone: true,
      range: integerRange(c.type),
    }));
  }

  async ensureMarkers(): Promise<void> {
    await this.conn!.query('CREATE TABLE IF NOT EXISTS specter_batches (id varchar(200) PRIMARY KEY)');
  }

  isDataError(err: unknown): boolean {
    const e = err as { sqlState?: unknown; errno?: unknown };
    return (typeof e.sqlState === 'string' && /^2[23]/.test(e.sqlState)) || (typeof e.errno === 'number' && DATA_ERRNOS.has(e.errno));
  }

  async markers(prefix: string): Promise<string[]> {
    const [rows] = await this.conn!.execute('SELECT id FROM specter_batches WHERE id LIKE ?', [`${prefix}%`]);
    return (rows as Array<{ id: string }>).map((r) => r.id);
  }

  async committed(marker: string): Promise<boolean> {
    const [rows] = await this.conn!.execute('SELECT 1 FROM specter_batches WHERE id = ?', [marker]);
    return (rows as unknown[]).length > 0;
  }

  async insert(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void> {
    const c = this.conn!;
    const names = cols.map((x) => `\`${x.name}\``).join(', ');
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, cols.length)));
    await c.beginTransaction();
    try {
      for (let start = 0; start < rows.length; start += per) {
        const part = rows.slice(start, start + per);
        // execute() prepares the statement on the server once per shape and sends values apart from it.
        await c.execute(`INSERT INTO \`${this.table}\` (${names}) VALUES ${new Array(part.length).fill(tuple).join(', ')}`, part.flat() as never[]);
      }
      if (previous.length) await c.query('DELETE FROM specter_batches WHERE id IN (?)', [previous]);
      await c.execute('INSERT INTO specter_batches (id) VALUES (?)', [marker]);
      await c.commit();
    } catch (err) {
      await c.rollback().catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    this.conn = null;
    await c?.end();
  }
}
