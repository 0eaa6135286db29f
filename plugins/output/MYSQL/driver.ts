/**
 * MySQL and MariaDB through `mysql2`: one connection, one transaction per
 * batch, the rows sent with LOAD DATA LOCAL INFILE from memory (text the
 * server parses in bulk) or, where the server does not allow that or the
 * table refuses a value, as a prepared multi-row INSERT. Every exchange with
 * the server has a deadline: a connection that stops answering (a half-open
 * TCP link, a stalled proxy) is destroyed, and the writer retries the batch
 * on a new one.
 */
import mysql from 'mysql2/promise';
import { TextBuffer } from 'specter/plugin';
import { integerRange, isValueDefault, type Column } from '../../shared/sql/columns.js';
import { withDeadline } from '../../shared/sql/deadline.js';
import type { SqlDriver } from '../../shared/sql/sql-output.js';
import { chunks, LoadData } from './load-data.js';

const MAX_PARAMS = 65535;

/**
 * The server or the client does not allow LOAD DATA LOCAL: ER_NOT_ALLOWED_COMMAND
 * (1148), MySQL's ER_CLIENT_LOCAL_FILES_DISABLED (3948), MariaDB's
 * ER_LOAD_INFILE_CAPABILITY_DISABLED (4166).
 */
const LOCAL_REFUSED = new Set([1148, 3948, 4166]);

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
  private readonly text = new TextBuffer(256 * 1024);
  /** LOAD DATA for the columns last written (the same array batch after batch). */
  private load: { cols: Column[]; data: LoadData } | null = null;
  /** The server took LOAD DATA LOCAL so far; once refused, every batch is an INSERT. */
  private bulk = true;

  /** `notice` hears of the switch to INSERT; `timeoutMs` is the longest wait for any answer of the server (0: none). */
  constructor(
    private readonly config: mysql.ConnectionOptions,
    private readonly table: string,
    private readonly notice: (msg: string) => void = () => undefined,
    private readonly timeoutMs = 0,
  ) {
    this.describe = `MySQL ${config.database}.${table}`;
  }

  /** The handshake's deadline is the client's connectTimeout. */
  async connect(): Promise<void> {
    const c = await mysql.createConnection(this.config);
    c.on('error', () => undefined); // wait_timeout and restarts show up as the next query's error
    this.conn = c;
  }

  /** `p` within the timeout; past it the connection is destroyed. */
  private deadline<T>(p: Promise<T>, what: string): Promise<T> {
    const c = this.conn;
    return withDeadline(p, this.timeoutMs, what, () => c?.destroy());
  }

  async columns(): Promise<Column[]> {
    const [rows] = await this.deadline(
      this.conn!.query(
        `SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type, EXTRA AS extra, COLUMN_DEFAULT AS dflt FROM information_schema.COLUMNS
       WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`,
        [this.config.database, this.table],
      ),
      'reading the columns',
    );
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
    await this.deadline(this.conn!.query('CREATE TABLE IF NOT EXISTS specter_batches (id varchar(200) PRIMARY KEY)'), 'creating specter_batches');
  }

  isDataError(err: unknown): boolean {
    const e = err as { sqlState?: unknown; errno?: unknown };
    return (typeof e.sqlState === 'string' && /^2[23]/.test(e.sqlState)) || (typeof e.errno === 'number' && DATA_ERRNOS.has(e.errno));
  }

  async markers(prefix: string): Promise<string[]> {
    const [rows] = await this.deadline(this.conn!.execute('SELECT id FROM specter_batches WHERE id LIKE ?', [`${prefix}%`]), 'reading markers');
    return (rows as Array<{ id: string }>).map((r) => r.id);
  }

  async committed(marker: string): Promise<boolean> {
    const [rows] = await this.deadline(this.conn!.execute('SELECT 1 FROM specter_batches WHERE id = ?', [marker]), 'reading a marker');
    return (rows as unknown[]).length > 0;
  }

  async insert(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void> {
    await this.deadline(this.transaction(cols, rows, marker, previous), `writing ${rows.length} rows`);
  }

  private async transaction(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void> {
    const c = this.conn!;
    await c.beginTransaction();
    try {
      if (rows.length && !(this.bulk && (await this.loadRows(c, cols, rows)))) await this.insertRows(c, cols, rows);
      if (previous.length) await c.query('DELETE FROM specter_batches WHERE id IN (?)', [previous]);
      await c.execute('INSERT INTO specter_batches (id) VALUES (?)', [marker]);
      await c.commit();
    } catch (err) {
      await c.rollback().catch(() => undefined);
      throw err;
    }
  }

  /**
   * The rows by LOAD DATA LOCAL, streamed from memory (whatever file name the
   * server asks for). LOCAL loads as IGNORE does, since the server cannot stop
   * the client's stream: a value the table refuses becomes a warning and its
   * row is changed or skipped. Then the transaction is rolled back and begun
   * again, and false returned: the batch goes as INSERT, whose error names
   * the refused value and lets the caller set the row aside.
   */
  private async loadRows(c: mysql.Connection, cols: Column[], rows: unknown[][]): Promise<boolean> {
    if (this.load?.cols !== cols) this.load = { cols, data: new LoadData(this.table, cols) };
    const text = this.load.data.encode(this.text, rows);
    try {
      const [res] = await c.query({ sql: this.load.data.sql, infileStreamFactory: () => chunks(text) });
      const r = res as mysql.ResultSetHeader;
      if (r.warningStatus === 0 && r.affectedRows === rows.length) return true;
      await c.rollback();
      await c.beginTransaction();
      return false;
    } catch (err) {
      const errno = (err as { errno?: unknown }).errno;
      if (typeof errno !== 'number' || !LOCAL_REFUSED.has(errno)) throw err;
      this.bulk = false;
      this.notice(
        `${this.describe}: the server does not allow LOAD DATA LOCAL INFILE (${(err as Error).message}); writing rows with INSERT, which is slower (set local_infile=ON on the server to load in bulk)`,
      );
      return false;
    } finally {
      this.text.release(text);
    }
  }

  /** The rows as prepared multi-row INSERTs, at most MAX_PARAMS values each. */
  private async insertRows(c: mysql.Connection, cols: Column[], rows: unknown[][]): Promise<void> {
    const names = cols.map((x) => `\`${x.name}\``).join(', ');
    const tuple = `(${cols.map(() => '?').join(', ')})`;
    const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, cols.length)));
    for (let start = 0; start < rows.length; start += per) {
      const part = rows.slice(start, start + per);
      // execute() prepares the statement on the server once per shape and sends values apart from it.
      await c.execute(`INSERT INTO \`${this.table}\` (${names}) VALUES ${new Array(part.length).fill(tuple).join(', ')}`, part.flat() as never[]);
    }
  }

  async close(): Promise<void> {
    const c = this.conn;
    if (!c) return;
    await this.deadline(c.end(), 'closing').catch(() => c.destroy());
    this.conn = null;
  }
}
