/** PostgreSQL through `pg`: one connection, multi-row INSERT with parameters, one transaction per batch. */
import pg from 'pg';
import type { Column } from '../../shared/sql/columns.js';
import type { SqlDriver } from '../../shared/sql/sql-output.js';

const MAX_PARAMS = 65535;

export class PgDriver implements SqlDriver {
  readonly describe: string;
  private client: pg.Client | null = null;
  private readonly statements = new Map<string, string>();

  constructor(private readonly config: pg.ClientConfig, private readonly schema: string, private readonly table: string) {
    this.describe = `PostgreSQL ${schema}.${table}`;
  }

  async connect(): Promise<void> {
    const c = new pg.Client(this.config);
    c.on('error', () => undefined); // a dropped connection shows up as the next query's error
    await c.connect();
    this.client = c;
  }

  async columns(): Promise<Column[]> {
    const r = await this.client!.query(
      `SELECT column_name, data_type, column_default, is_identity FROM information_schema.columns
       WHERE table_schema = $1 AND table_name = $2 ORDER BY ordinal_position`, [this.schema, this.table]);
    return r.rows.map((c: { column_name: string; data_type: string; column_default: string | null; is_identity: string }) => ({
      name: c.column_name,
      type: c.data_type,
      generated: c.is_identity === 'YES' || c.column_default !== null,
    }));
  }

  async ensureMarkers(): Promise<void> {
    await this.client!.query(`CREATE TABLE IF NOT EXISTS "${this.schema}".specter_batches (id varchar(200) PRIMARY KEY)`);
  }

  async committed(marker: string): Promise<boolean> {
    const r = await this.client!.query(`SELECT 1 FROM "${this.schema}".specter_batches WHERE id = $1`, [marker]);
    return (r.rowCount ?? 0) > 0;
  }

  async insert(cols: Column[], rows: unknown[][], marker: string, previous: string | null): Promise<void> {
    const c = this.client!;
    const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, cols.length)));
    await c.query('BEGIN');
    try {
      for (let start = 0; start < rows.length; start += per) {
        const n = Math.min(per, rows.length - start);
        const values: unknown[] = new Array(n * cols.length);
        let k = 0;
        for (let r = start; r < start + n; r++) {
          const row = rows[r];
          for (let i = 0; i < row.length; i++) values[k++] = typeof row[i] === 'bigint' ? String(row[i]) : row[i];
        }
        // A named statement per batch shape: the server plans it once, and its text is built once.
        await c.query({ name: `specter_${this.table}_${cols.length}_${n}`, text: this.statement(cols, n), values });
      }
      if (previous) await c.query(`DELETE FROM "${this.schema}".specter_batches WHERE id = $1`, [previous]);
      await c.query(`INSERT INTO "${this.schema}".specter_batches (id) VALUES ($1)`, [marker]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  /** INSERT ... VALUES ($1, $2), ($3, $4) ... for `n` rows, kept for the last few shapes. */
  private statement(cols: Column[], n: number): string {
    const key = `${cols.map((x) => x.name).join(',')}/${n}`;
    let text = this.statements.get(key);
    if (!text) {
      const tuples: string[] = [];
      for (let r = 0; r < n; r++) tuples.push(`(${cols.map((_, i) => `$${r * cols.length + i + 1}`).join(', ')})`);
      text = `INSERT INTO "${this.schema}"."${this.table}" (${cols.map((x) => `"${x.name}"`).join(', ')}) VALUES ${tuples.join(', ')}`;
      // Full batches share one shape; the few others are kept while they recur.
      if (this.statements.size >= 4) this.statements.delete(this.statements.keys().next().value!);
      this.statements.set(key, text);
    }
    return text;
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end();
  }
}
