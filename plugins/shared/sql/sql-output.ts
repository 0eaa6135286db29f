/**
 * The part of every SQL output that is not the driver: the bounded queue of
 * rows, batching, the writer loop with reconnection and back-off, and the
 * column mapping applied at insert time (so a database that is down at
 * start-up is mapped when it comes up). Rows leave the queue only after the
 * database committed them.
 */
import type { Key } from '../../../src/core/keys.js';
import type { OutputContext, OutputInstance } from '../../../src/core/plugin.js';
import { mapColumns, type Column } from './columns.js';

export interface SqlDriver {
  /** For messages: "PostgreSQL test.ulog". */
  readonly describe: string;
  connect(): Promise<void>;
  columns(): Promise<Column[]>;
  /** Inserts the rows (values in `cols` order) in one transaction. */
  insert(cols: Column[], rows: unknown[][]): Promise<void>;
  close(): Promise<void>;
}

export interface SqlOptions {
  ignoreUnknown: boolean;
  label: number;
  batch: number;
  buffer: number;
  dropOldest: boolean;
}

const MIN_BACKOFF = 200;
const MAX_BACKOFF = 5000;

export async function sqlOutput(ctx: OutputContext, makeDriver: () => SqlDriver, o: SqlOptions): Promise<OutputInstance> {
  const produced = new Map<string, Key>(ctx.producedKeys().map((k) => [k.name, k]));
  const mapOpts = { ignoreUnknown: o.ignoreUnknown, label: o.label };
  let driver = makeDriver();
  let read: Key[];
  let mapping: { cols: Column[]; index: number[]; convert: Array<(v: unknown) => unknown> } | null = null;

  const buildMapping = (columns: Column[]) => {
    const m = mapColumns(columns, produced, mapOpts);
    if (m.ignored.length) ctx.log.warn(`${driver.describe}: columns ${m.ignored.join(', ')} map to no key and stay empty`);
    mapping = {
      cols: m.mapped.map((x) => x.column),
      index: m.mapped.map((x) => (x.key ? read.findIndex((k) => k.name === x.key!.name) : -1)),
      convert: m.mapped.map((x) => x.convert),
    };
  };

  // Read the table now when the database is there: then only its columns' keys are decoded.
  let columns: Column[] | null = null;
  try {
    await driver.connect();
    columns = await driver.columns();
  } catch (err) {
    ctx.log.warn(`${driver.describe}: ${(err as Error).message}; starting anyway, rows wait until it is reachable`);
    await driver.close().catch(() => undefined);
    driver = makeDriver();
  }
  if (columns) {
    if (columns.length === 0) ctx.fail(`${driver.describe}: the table does not exist or has no columns`);
    try {
      const m = mapColumns(columns, produced, mapOpts);
      read = m.mapped.filter((x) => x.key).map((x) => ctx.key(x.key!.name));
      buildMapping(columns);
    } catch (err) {
      return ctx.fail(`${driver.describe}: ${(err as Error).message}`);
    }
  } else {
    read = [...ctx.allKeys()];
  }
  if (ctx.checkOnly) await driver.close().catch(() => undefined);
  const slots = read.map((k) => k.slot);

  let queue: unknown[][] = [];
  let connected = columns !== null;
  let writing = false;
  let stopped = false;
  let backoff = MIN_BACKOFF;
  let failing: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let idle: Array<() => void> = [];

  const toRow = (raw: unknown[]): unknown[] => {
    const m = mapping!;
    const row = new Array(m.cols.length);
    for (let i = 0; i < row.length; i++) {
      const j = m.index[i];
      row[i] = j < 0 ? m.convert[i](undefined) : raw[j] === undefined ? null : m.convert[i](raw[j]);
    }
    return row;
  };

  const pump = async (): Promise<void> => {
    if (writing || stopped) return;
    writing = true;
    try {
      while (queue.length) {
        if (!connected) {
          await driver.connect();
          if (!mapping) buildMapping(await driver.columns());
          connected = true;
          if (failing) ctx.log.info(`${driver.describe}: connected again, writing ${queue.length} waiting rows`);
          failing = null;
          backoff = MIN_BACKOFF;
        }
        const n = Math.min(queue.length, o.batch);
        const batch = queue.slice(0, n);
        await driver.insert(mapping!.cols, batch.map(toRow));
        // Committed: only now do the rows leave the queue.
        queue = queue.slice(n);
        ctx.counters.sent += n;
      }
    } catch (err) {
      ctx.counters.errors++;
      const msg = (err as Error).message;
      if (failing !== msg) {
        failing = msg;
        ctx.log.error(`${driver.describe}: ${msg}; ${queue.length} rows wait, retrying`);
      }
      connected = false;
      await driver.close().catch(() => undefined);
      driver = makeDriver();
      timer = setTimeout(() => { timer = null; void pump(); }, backoff);
      backoff = Math.min(backoff * 2, MAX_BACKOFF);
    } finally {
      writing = false;
      if (!queue.length) {
        const w = idle;
        idle = [];
        for (const fn of w) fn();
      } else if (!timer && connected) {
        void pump();
      }
    }
  };

  return {
    write(rec) {
      const raw = new Array(slots.length);
      for (let i = 0; i < slots.length; i++) if (rec.present[slots[i]]) raw[i] = rec.values[slots[i]];
      if (queue.length >= o.buffer) {
        ctx.counters.dropped++;
        if (ctx.counters.dropped % 10000 === 1) ctx.log.warn({ dropped: ctx.counters.dropped }, `${driver.describe}: buffer of ${o.buffer} rows full, dropping the ${o.dropOldest ? 'oldest' : 'newest'}`);
        if (!o.dropOldest) return;
        queue.shift();
      }
      queue.push(raw);
    },
    endBatch() {
      if (!timer) void pump();
    },
    async flush() {
      if (!queue.length) return;
      void pump();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 10000);
        idle.push(() => { clearTimeout(t); resolve(); });
      });
    },
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (queue.length) {
        ctx.counters.dropped += queue.length;
        ctx.log.error(`${driver.describe}: ${queue.length} rows could not be written before exit`);
      }
      await driver.close().catch(() => undefined);
    },
  };
}
