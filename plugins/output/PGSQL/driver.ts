/**
 * PostgreSQL through `pg`: one connection, each batch COPYed in one transaction
 * with its marker. Every exchange with the server has a deadline: a connection
 * that stops answering (a half-open TCP link, a stalled proxy) is destroyed,
 * and the writer retries the batch on a new one.
 */
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { TextBuffer } from 'specter/plugin';
import { integerRange, isValueDefault, type Column } from '../../shared/sql/columns.js';
import { withDeadline } from '../../shared/sql/deadline.js';
import type { SqlDriver } from '../../shared/sql/sql-output.js';

export class PgDriver implements SqlDriver {
  readonly describe: string;
  private client: pg.Client | null = null;
  private readonly text = new TextBuffer(256 * 1024);

  /** `timeoutMs`: longest wait for any answer of the server (0: none). */
  constructor(
    private readonly config: pg.ClientConfig,
    private readonly schema: string,
    private readonly table: string,
    private readonly timeoutMs = 0,
  ) {
    this.describe = `PostgreSQL ${schema}.${table}`;
  }

  async connect(): Promise<void> {
    const c = new pg.Client(this.config);
    c.on('error', () => undefined); // a dropped connection shows up as the next query's error
    this.client = c;
    await this.deadline(c.connect(), 'connecting');
  }

  /** `p` within the timeout; past it the connection's socket is destroyed. */
  private deadline<T>(p: Promise<T>, what: string): Promise<T> {
    const c = this.client as unknown as { connection?: { stream?: { destroy(): void } } } | null;
    return withDeadline(p, this.timeoutMs, what, () => c?.connection?.stream?.destroy());
  }

  /** SQLSTATE classes 22 (data exception: a value the type cannot hold) and 23 (integrity constraint): the rows, not the connection. */
  isDataError(err: unknown): boolean {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' && /^2[23]/.test(code);
  }

  async markers(prefix: string): Promise<string[]> {
    const r = await this.deadline(this.client!.query(`SELECT id FROM "${this.schema}".specter_batches WHERE id LIKE $1`, [`${prefix}%`]), 'reading markers');
    return r.rows.map((x: { id: string }) => x.id);
  }

  async columns(): Promise<Column[]> {
    const r = await this.client!.query(
      `SELECT column_name, data_type, column_default, is_identity, is_generated FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`,
      [this.schema, this.table],
    );
    type Row = { column_name: string; data_type: string; column_default: string | null; is_identity: string; is_generated: string };
    return r.rows.map((c: Row) => ({
      name: c.column_name,
      type: c.data_type,
      // serial and bigserial are a default of nextval() on their own sequence.
      generated: c.is_identity === 'YES' || c.is_generated === 'ALWAYS' || /^nextval\(/i.test(c.column_default ?? ''),
      hasDefault: isValueDefault(c.column_default),
      range: integerRange(c.data_type),
    }));
  }

  async ensureMarkers(): Promise<void> {
    await this.deadline(
      this.client!.query(`CREATE TABLE IF NOT EXISTS "${this.schema}".specter_batches (id varchar(200) PRIMARY KEY)`),
      'creating specter_batches',
    );
  }

  async committed(marker: string): Promise<boolean> {
    const r = await this.deadline(this.client!.query(`SELECT 1 FROM "${this.schema}".specter_batches WHERE id = $1`, [marker]), 'reading a marker');
    return (r.rowCount ?? 0) > 0;
  }

  async insert(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void> {
    await this.deadline(this.transaction(cols, rows, marker, previous), `writing ${rows.length} rows`);
  }

  private async transaction(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void> {
    const c = this.client!;
    const data = copyText(this.text, rows);
    await c.query('BEGIN');
    try {
      if (rows.length) {
        // COPY: the batch as one stream of text that the server parses in bulk, no per-value parameters.
        const names = cols.map((x) => `"${x.name}"`).join(', ');
        const stream = c.query(copyFrom(`COPY "${this.schema}"."${this.table}" (${names}) FROM STDIN`));
        await new Promise<void>((resolve, reject) => {
          stream.on('finish', resolve);
          stream.on('error', reject);
          stream.end(data);
        });
      }
      if (previous.length) await c.query(`DELETE FROM "${this.schema}".specter_batches WHERE id = ANY($1)`, [previous]);
      await c.query(`INSERT INTO "${this.schema}".specter_batches (id) VALUES ($1)`, [marker]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      this.text.release(data);
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    if (c)
      await this.deadline(c.end(), 'closing').catch(() => (c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy());
  }
}

const BACKSLASH = 92;

/**
 * Rows in COPY's text format: a tab between values, a newline after each row,
 * \N for NULL, backslash escapes for backslash, tab, newline and carriage
 * return in text, NUL (which PostgreSQL text cannot hold) as the four
 * characters \x00, and bytes as \\x hex (bytea's hex input once COPY has
 * undone its own escaping).
 */
function copyText(out: TextBuffer, rows: unknown[][]): Buffer {
  for (const row of rows) {
    for (let i = 0; i < row.length; i++) {
      out.reserve(1);
      if (i) out.byte(9);
      copyValue(out, row[i]);
    }
    out.reserve(1);
    out.byte(10);
  }
  return out.take();
}

function copyValue(out: TextBuffer, v: unknown): void {
  if (v === null || v === undefined) {
    out.reserve(2);
    out.byte(BACKSLASH);
    out.byte(78); // N
  } else if (typeof v === 'number' && Number.isSafeInteger(v)) {
    out.reserve(17);
    out.int(v);
  } else if (typeof v === 'boolean') {
    out.reserve(1);
    out.byte(v ? 116 : 102); // t, f
  } else if (v instanceof Uint8Array) {
    out.reserve(3 + v.length * 2);
    out.byte(BACKSLASH);
    out.byte(BACKSLASH);
    out.byte(120); // x
    out.hex(v);
  } else {
    copyString(out, String(v));
  }
}

const SPECIAL = /[\\\t\n\r\0]/g;
const ESCAPED: { readonly [c: string]: string } = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\\\x00' };

function copyString(out: TextBuffer, s: string): void {
  const text = s.replace(SPECIAL, (c) => ESCAPED[c]);
  out.reserve(text.length * 3);
  out.utf8(text);
}
