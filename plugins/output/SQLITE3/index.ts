/**
 * SQLITE3: packets into a SQLite table whose columns choose the keys (see
 * plugins/shared/sql/columns.ts). The embedded default: no server needed.
 * Rows are gathered per batch (up to 100 ms) and inserted with one prepared
 * statement inside one transaction. A missing database or table is created at
 * start (never under --check) with a column for every key the group produces.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { CommitQueue, defineOutput, ErrorReporter, type Key } from 'specter/plugin';
import { mapColumns, type Column, type Mapped } from '../../shared/sql/columns.js';
import { natLookupCommand } from '../../shared/sql/nat-lookup.js';
import { sqliteFlowTable } from '../../shared/sql/nat-lookup-tables.js';
import { RejectFile } from '../../shared/sql/reject-file.js';
import { createTableSql, keyColumns, readColumns } from './schema.js';

const MAX_DELAY_MS = 100;

export default defineOutput({
  name: 'SQLITE3',
  description: 'packets into a SQLite table, columns mapped to keys by name',
  options: {
    sqlite3db: { type: 'string', required: true, description: 'database file' },
    sqlite3create: {
      type: 'bool',
      default: true,
      description: 'create the database file and the table when missing, with a column for every key the group produces',
    },
    sqlite3table: { type: 'string', default: 'ulog', description: 'table to insert into' },
    sqlite3ignore: { type: 'bool', default: false, description: 'leave out columns that map to no key instead of refusing to start' },
    sqlite3label: { type: 'int', default: 0, description: 'value of a raw_label column (ulogd2 tables)' },
    sqlite3batch: { type: 'int', default: 5000, min: 1, description: 'rows per transaction at most' },
    sqlite3buffer: { type: 'int', default: 200000, min: 1, description: 'rows kept while the database is locked; more are dropped and counted' },
    sqlite3rejectfile: {
      type: 'string',
      description:
        'where rows the database refuses (a constraint, a type mismatch) are written, one JSON line each (default: the database file name with .rejected added)',
    },
  },
  create(ctx) {
    const o = ctx.options;
    const file = o.sqlite3db;
    const table = o.sqlite3table;
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(table)) ctx.fail('expected a plain table name', 'sqlite3table');
    const create = o.sqlite3create;
    let columns: Column[] | null = null;
    if (fs.existsSync(file)) {
      try {
        columns = readColumns(file, table);
      } catch (err) {
        ctx.fail(`cannot read ${file}: ${(err as Error).message}`, 'sqlite3db');
      }
    } else if (!create) {
      ctx.fail(`database ${file} does not exist and sqlite3create is off (create it with a table, e.g. from doc/sqlite3.table)`, 'sqlite3db');
    }
    if (!columns && !create) ctx.fail(`database ${file} has no table "${table}" and sqlite3create is off`, 'sqlite3table');
    // A missing table is made at start(); under --check only its mapping is checked and nothing is created.
    let makeTable: string | null = null;
    if (!columns) {
      columns = keyColumns(ctx.producedKeys());
      makeTable = createTableSql(table, columns);
    }
    const produced = new Map<string, Key>(ctx.producedKeys().map((k) => [k.name, k]));
    let mapped: Mapped[];
    try {
      const m = mapColumns(columns, produced, { ignoreUnknown: o.sqlite3ignore, label: o.sqlite3label });
      mapped = m.mapped;
      if (m.ignored.length) ctx.log.warn(`table ${table}: columns ${m.ignored.join(', ')} map to no key and stay empty`);
    } catch (err) {
      return ctx.fail(`table ${table}: ${(err as Error).message}`, 'sqlite3table');
    }
    const slots = mapped.map((m) => (m.key ? ctx.key(m.key.name).slot : -1));
    const convert = mapped.map((m) => m.convert);
    const batchMax = o.sqlite3batch;
    const bufferMax = o.sqlite3buffer;
    let db: Database.Database | null = null;
    let insertMany: ((rows: unknown[][]) => Refused[]) | null = null;
    const reject = new RejectFile(
      o.sqlite3rejectfile ?? `${file}.rejected`,
      table,
      mapped.map((m) => m.column.name),
    );
    let rejectSeq = 0;
    let rows: unknown[][] = [];
    /** The commit ticket of each waiting row: settled once its transaction committed (or it was dropped). */
    let tickets: number[] = [];
    const commits = new CommitQueue(ctx.commit);
    let closed = false;
    let timer: NodeJS.Timeout | null = null;
    const failures = new ErrorReporter(ctx.log);

    const writeOut = () => {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      while (rows.length && insertMany) {
        const chunk = rows.length > batchMax ? rows.slice(0, batchMax) : rows;
        let refused: Refused[];
        try {
          refused = insertMany(chunk);
        } catch (err) {
          ctx.counters.errors++;
          failures.failure(`SQLite ${file}: ${(err as Error).message}; keeping rows and retrying`);
          timer = setTimeout(writeOut, 500);
          return;
        }
        failures.recovered(`SQLite ${file} works again`);
        ctx.counters.sent += chunk.length - refused.length;
        if (refused.length) setAside(refused);
        commits.settleThrough(tickets[chunk.length - 1]);
        const all = chunk === rows;
        rows = all ? [] : rows.slice(chunk.length);
        tickets = all ? [] : tickets.slice(chunk.length);
      }
    };

    /** Rows the database refused, after their transaction committed the others. */
    const setAside = (refused: Refused[]) => {
      ctx.counters.extra.rejected = (ctx.counters.extra.rejected ?? 0) + refused.length;
      ctx.counters.dropped += refused.length;
      try {
        for (const r of refused) reject.write(r.row, r.reason, `${file}:${process.pid}:${++rejectSeq}`);
      } catch (err) {
        ctx.counters.errors++;
        ctx.log.error(`cannot write ${reject.file}: ${(err as Error).message}; ${refused.length} refused rows dropped`);
      }
      ctx.log.warn(
        { rejected: ctx.counters.extra.rejected },
        `SQLite ${file} refused ${refused.length} rows (${refused[0].reason}); set aside in ${reject.file}`,
      );
    };

    return {
      async start() {
        if (makeTable) {
          const existed = fs.existsSync(file);
          fs.mkdirSync(path.dirname(file), { recursive: true });
          db = new Database(file);
          db.exec(makeTable);
          ctx.log.info(
            `created ${existed ? `table ${table} in ${file}` : `${file} with table ${table}`}: ${mapped.length} columns, one per key the group's inputs produce`,
          );
        } else {
          db = new Database(file, { fileMustExist: true });
        }
        db.pragma('journal_mode = WAL');
        db.pragma('synchronous = NORMAL');
        db.pragma('busy_timeout = 50');
        const cols = mapped.map((m) => `"${m.column.name}"`).join(', ');
        const stmt = db.prepare(`INSERT INTO "${table}" (${cols}) VALUES (${mapped.map(() => '?').join(', ')})`);
        insertMany = db.transaction((batch: unknown[][]) => {
          const refused: Refused[] = [];
          for (const r of batch) {
            try {
              stmt.run(r);
            } catch (err) {
              // A refused row undoes only its own statement; anything else (a full disk, a lock) undoes the batch.
              if (!isDataError(err)) throw err;
              refused.push({ row: r, reason: (err as Error).message });
            }
          }
          return refused;
        });
      },
      write(rec) {
        if (rows.length >= bufferMax) {
          ctx.counters.dropped++;
          commits.now(1);
          return;
        }
        const row = new Array(slots.length);
        for (let i = 0; i < slots.length; i++) {
          const s = slots[i];
          row[i] = s < 0 ? convert[i](undefined) : rec.present[s] ? convert[i](rec.values[s]) : null;
        }
        rows.push(row);
        tickets.push(commits.hold(1));
      },
      endBatch() {
        if (rows.length >= batchMax) writeOut();
        else if (!timer && rows.length) timer = setTimeout(writeOut, MAX_DELAY_MS);
      },
      async flush() {
        // A database locked or failing for now is tried again until it works or close() comes.
        writeOut();
        while (rows.length && !closed) {
          await new Promise((resolve) => setTimeout(resolve, 100));
          if (!timer) writeOut();
        }
      },
      async close() {
        writeOut();
        closed = true;
        if (timer) clearTimeout(timer);
        if (rows.length) {
          ctx.counters.dropped += rows.length;
          ctx.log.error(`${rows.length} rows could not be written to ${file} before exit`);
        }
        commits.settleAll();
        db?.close();
        reject.close();
      },
    };
  },
  commands: {
    'nat-lookup': (o) => natLookupCommand(() => sqliteFlowTable(o.sqlite3db, o.sqlite3table)),
  },
});

interface Refused {
  row: unknown[];
  reason: string;
}

/** A constraint (NOT NULL, CHECK, UNIQUE), a value a STRICT table's type refuses, or one too big: the row, not the database. */
function isDataError(err: unknown): boolean {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^SQLITE_(CONSTRAINT|MISMATCH|TOOBIG)/.test(code);
}
