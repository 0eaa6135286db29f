/**
 * The flow table nat-lookup reads, in each database, opened with the SQL
 * output's own connection options. Drivers load on use: a PGSQL command
 * needs no MariaDB client.
 */
import type { FlowTable } from './nat-lookup.js';

/** PostgreSQL: `config` as PGSQL connects (host, port, user, password, database or a connection string). */
export async function pgFlowTable(config: object, schema: string, table: string, timeoutMs: number, where: string): Promise<FlowTable> {
  const { default: pg } = await import('pg');
  const client = new pg.Client({ ...config, connectionTimeoutMillis: Math.min(timeoutMs, 10_000), statement_timeout: timeoutMs });
  // An error of the idle connection (a server restart) must not be an unhandled event.
  client.on('error', () => {});
  const label = `PGSQL table ${schema}.${table} (${where})`;
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`${label}: cannot connect: ${(err as Error).message}`);
  }
  return {
    dialect: 'pgsql',
    label,
    sqlName: `"${schema}"."${table}"`,
    columns: async () =>
      (
        await client.query('SELECT column_name AS name, data_type AS type FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2', [
          schema,
          table,
        ])
      ).rows,
    query: async (sql, params) => (await client.query(sql, params)).rows,
    close: () => client.end(),
  };
}

/** MySQL or MariaDB: `config` as MYSQL connects. */
export async function mysqlFlowTable(config: object, table: string, where: string): Promise<FlowTable> {
  const mysql = await import('mysql2/promise');
  const label = `MYSQL table ${table} (${where})`;
  let conn: Awaited<ReturnType<typeof mysql.createConnection>>;
  try {
    conn = await mysql.createConnection({ ...config, connectTimeout: 10_000 });
  } catch (err) {
    throw new Error(`${label}: cannot connect: ${(err as Error).message}`);
  }
  const rows = async (sql: string, params: unknown[]) => (await conn.query(sql, params))[0] as { [column: string]: unknown }[];
  return {
    dialect: 'mysql',
    label,
    sqlName: `\`${table}\``,
    columns: async () =>
      (await rows('SELECT COLUMN_NAME AS name, COLUMN_TYPE AS type FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?', [
        table,
      ])) as { name: string; type: string }[],
    query: rows,
    close: () => conn.end(),
  };
}

/** SQLite: the database file, opened read-only (the daemon may be writing it). */
export async function sqliteFlowTable(file: string, table: string): Promise<FlowTable> {
  const { default: Database } = await import('better-sqlite3');
  const label = `SQLITE3 table ${table} (${file})`;
  let db: InstanceType<typeof Database>;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 10000');
  } catch (err) {
    throw new Error(`${label}: cannot open: ${(err as Error).message}`);
  }
  return {
    dialect: 'sqlite3',
    label,
    sqlName: `"${table}"`,
    columns: async () => db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string; type: string }[],
    query: async (sql, params) => db.prepare(sql).all(...params) as { [column: string]: unknown }[],
    close: async () => {
      db.close();
    },
  };
}
