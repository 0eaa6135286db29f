/**
 * The part of every SQL output that is not the driver: the bounded queue of
 * rows, batching, the writer loop with reconnection and back-off, and the
 * column mapping applied at insert time (so a database that is down at
 * start-up is mapped when it comes up). Rows leave the queue only after the
 * database committed them.
 *
 * Exactly once: each batch's transaction also writes a marker row. When the
 * connection dies between COMMIT and its answer, the marker tells after the
 * reconnect whether the batch is in the table (drop it from the queue) or not
 * (send it again, with the same rows and marker).
 */
import os from 'node:os';
import type { Key } from '../../../src/core/keys.js';
import type { OutputContext, OutputInstance } from '../../../src/core/plugin.js';
import { mapColumns, type Column } from './columns.js';
import { OverflowFile } from './overflow-file.js';
import { RowQueue } from './row-queue.js';
import { Spool } from './spool.js';

export interface SqlDriver {
  /** For messages: "PostgreSQL test.ulog". */
  readonly describe: string;
  connect(): Promise<void>;
  columns(): Promise<Column[]>;
  /** Creates the table of commit markers (specter_batches) if it is missing. */
  ensureMarkers(): Promise<void>;
  /**
   * Inserts the rows (values in `cols` order) in one transaction that also
   * records `marker` in specter_batches and removes `previous`.
   */
  insert(cols: Column[], rows: unknown[][], marker: string, previous: string | null): Promise<void>;
  /** Whether a transaction with this marker was committed. */
  committed(marker: string): Promise<boolean>;
  close(): Promise<void>;
}

export interface SqlOptions {
  ignoreUnknown: boolean;
  label: number;
  batch: number;
  buffer: number;
  dropOldest: boolean;
  spoolDir: string;
  spoolMax: number;
  /** For the spool file name. */
  table: string;
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
  const readNames = read.map((k) => k.name);
  const spool = new Spool(Spool.fileFor(o.spoolDir, ctx.name, ctx.group, o.table), o.spoolMax);

  // Rows left by the previous run go first; the file goes once they are committed.
  const left = ctx.checkOnly ? { rows: [], inflight: null } : spool.load(readNames);
  const queue = new RowQueue(left.rows);
  let spooled = queue.length;
  // Beyond `buffer` rows in memory, rows wait on disk (up to spoolmax) in arrival order.
  const overflow = new OverflowFile(`${spool.file}.queue`, o.spoolMax);
  if (spooled) ctx.log.info(`${driver.describe}: ${spooled} rows from ${spool.file} will be written first`);
  let connected = columns !== null;
  let writing = false;
  let stopped = false;
  let backoff = MIN_BACKOFF;
  let failing: string | null = null;
  let timer: NodeJS.Timeout | null = null;
  let idle: Array<() => void> = [];
  const token = `${os.hostname()}:${process.pid}:${Date.now().toString(36)}:${ctx.name}:${ctx.group}`;
  let batchSeq = 0;
  let inflight: { marker: string; n: number } | null = left.inflight;
  let lastMarker: string | null = null;
  let markersReady = false;

  const toRow = (raw: unknown[]): unknown[] => {
    const m = mapping!;
    const row = new Array(m.cols.length);
    for (let i = 0; i < row.length; i++) {
      const j = m.index[i];
      row[i] = j < 0 ? m.convert[i](undefined) : raw[j] === undefined ? null : m.convert[i](raw[j]);
    }
    return row;
  };

  /** Rows the overflow file could not take (a full disk) are dropped, and counted. */
  const countLost = () => {
    if (!overflow.lost) return;
    ctx.counters.dropped += overflow.lost;
    ctx.counters.errors++;
    ctx.log.error(`${driver.describe}: cannot write ${overflow.file}: ${overflow.lastError}; ${overflow.lost} rows dropped`);
    overflow.lost = 0;
  };

  /** A committed batch leaves the queue. */
  const done = (b: { marker: string; n: number }) => {
    queue.shift(b.n);
    if (overflow.count && queue.length < o.buffer / 2) queue.append(overflow.shift(o.buffer - queue.length));
    ctx.counters.sent += b.n;
    if (spooled) {
      spooled = Math.max(0, spooled - b.n);
      if (spooled === 0) spool.remove();
    }
    lastMarker = b.marker;
    inflight = null;
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
          markersReady = false;
        }
        if (!markersReady) {
          await driver.ensureMarkers();
          markersReady = true;
          if (inflight && (await driver.committed(inflight.marker))) {
            // The last COMMIT went through though its answer was lost.
            done(inflight);
            continue;
          }
        }
        // A batch that failed is sent again with the same rows and marker.
        inflight ??= { marker: `${token}:${++batchSeq}`, n: Math.min(queue.length, o.batch) };
        await driver.insert(mapping!.cols, queue.first(inflight.n).map(toRow), inflight.marker, lastMarker);
        done(inflight);
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
    async start() {
      if (queue.length) void pump(); // rows from the spool file do not wait for the next packet
    },
    write(rec) {
      const raw = new Array(slots.length);
      for (let i = 0; i < slots.length; i++) if (rec.present[slots[i]]) raw[i] = rec.values[slots[i]];
      if (queue.length >= o.buffer || overflow.count) {
        const pushed = overflow.push(raw);
        countLost();
        if (pushed) {
          if (overflow.count === 1) ctx.log.warn(`${driver.describe}: ${o.buffer} rows wait in memory; further rows wait in ${overflow.file}`);
          return;
        }
        ctx.counters.dropped++;
        if (ctx.counters.dropped % 10000 === 1) ctx.log.warn({ dropped: ctx.counters.dropped }, `${driver.describe}: buffer of ${o.buffer} rows full, dropping the ${o.dropOldest ? 'oldest' : 'newest'}`);
        if (!o.dropOldest) return;
        queue.removeAt(inflight ? inflight.n : 0); // never a row of the batch in flight
      }
      queue.push(raw);
    },
    endBatch() {
      overflow.writeOut();
      countLost();
      if (!timer) void pump();
    },
    async flush() {
      // With the server away there is nothing to wait for: close() spools the rows.
      if (!queue.length || !connected) return;
      void pump();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        idle.push(() => { clearTimeout(t); resolve(); });
      });
    },
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (overflow.count) queue.append(overflow.drainAll());
      overflow.clear();
      if (queue.length) {
        // Kept for the next start; a batch in flight may be in the table already (its marker says).
        const kept = spool.save(readNames, queue.all(), inflight);
        ctx.counters.dropped += queue.length - kept;
        ctx.log.warn(`${driver.describe}: ${kept} rows not yet written are kept in ${spool.file}${kept < queue.length ? `; ${queue.length - kept} over spoolmax dropped` : ''}`);
      } else if (spooled === 0) {
        spool.remove();
      }
      await driver.close().catch(() => undefined);
    },
  };
}
