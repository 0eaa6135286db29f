/** PostgreSQL through `pg`: one connection, multi-row INSERT with parameters, one transaction per batch. */
import pg from 'pg';
import type { Column } from '../../shared/sql/columns.js';
import type { SqlDriver } from '../../shared/sql/sql-output.js';

const MAX_PARAMS = 65535;

export class PgDriver implements SqlDriver {
  readonly describe: string;
  private client: pg.Client | null = null;

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
    const names = cols.map((x) => `"${x.name}"`).join(', ');
    const per = Math.max(1, Math.floor(MAX_PARAMS / Math.max(1, cols.length)));
    await c.query('BEGIN');
    try {
      for (let start = 0; start < rows.length; start += per) {
        const part = rows.slice(start, start + per);
        const values: unknown[] = [];
        const tuples: string[] = [];
        for (const row of part) {
          const ph: string[] = [];
          for (const v of row) {
            values.push(typeof v === 'bigint' ? v.toString() : v);
            ph.push(`$${values.length}`);
          }
          tuples.push(`(${ph.join(', ')})`);
        }
        // A named statement per batch shape: the server plans it once.
        await c.query({ name: `specter_${this.table}_${cols.length}_${part.length}`, text: `INSERT INTO "${this.schema}"."${this.table}" (${names}) VALUES ${tuples.join(', ')}`, values });
      }
      if (previous) await c.query(`DELETE FROM "${this.schema}".specter_batches WHERE id = $1`, [previous]);
      await c.query(`INSERT INTO "${this.schema}".specter_batches (id) VALUES ($1)`, [marker]);
      await c.query('COMMIT');
    } catch (err) {
      await c.query('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async close(): Promise<void> {
    const c = this.client;
    this.client = null;
    await c?.end();
  }
}
