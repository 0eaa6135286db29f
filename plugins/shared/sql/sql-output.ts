/**
 * The part of every server SQL output that is not the driver: the bounded
 * memory queue of rows, the segment files on disk behind it, batching, the
 * writer loop with reconnection and back-off, rows the database refuses, and
 * the column mapping applied at insert time (so a database that is down at
 * start-up is mapped when it comes up). Rows leave the queue only once the
 * database committed them, or once they are counted as dropped or rejected.
 *
 * Exactly once: each batch's transaction also writes a marker row. When the
 * connection dies between COMMIT and its answer, the marker tells after the
 * reconnect whether the batch is in the table (drop it from the queue) or
 * not (send it again, with the same rows and marker). A batch of rows read
 * back from a segment file has the marker "<segment id>:<byte offset after
 * its last row>", so after a crash the replay of that file starts where the
 * database says it stopped.
 *
 * A row the database refuses (a data error, not a connection error) is found
 * by splitting the failing batch in halves, written to the reject file and
 * counted (`rejected`, and as dropped); the rest goes on.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Backoff, CommitQueue, ErrorReporter, type Key, type OutputContext, type OutputInstance } from 'specter/plugin';
import { mapColumns, type Column } from './columns.js';
import { DiskQueue } from './disk-queue.js';
import { RejectFile } from './reject-file.js';
import { rowBytes } from './row-codec.js';
import { RowQueue, type Origin } from './row-queue.js';
import type { Segment } from './segment.js';

export interface SqlDriver {
  /** For messages: "PostgreSQL test.ulog". */
  readonly describe: string;
  connect(): Promise<void>;
  columns(): Promise<Column[]>;
  /** Creates the table of commit markers (specter_batches) if it is missing. */
  ensureMarkers(): Promise<void>;
  /**
   * Inserts the rows (values in `cols` order) in one transaction that also
   * records `marker` in specter_batches and deletes the markers in
   * `previous`. With no rows, the transaction holds only the markers.
   */
  insert(cols: Column[], rows: unknown[][], marker: string, previous: readonly string[]): Promise<void>;
  /** Whether a transaction with this marker was committed. */
  committed(marker: string): Promise<boolean>;
  /** The markers that start with `prefix` (a segment id and a colon; hex and a colon only). */
  markers(prefix: string): Promise<string[]>;
  /** The database refused the data (a value or a constraint), as opposed to the connection or the server failing. */
  isDataError(err: unknown): boolean;
  close(): Promise<void>;
}

export interface SqlOptions {
  /** Option prefix, for messages ("pgsql"). */
  prefix: string;
  ignoreUnknown: boolean;
  label: number;
  batch: number;
  buffer: number;
  bufferBytes: number;
  dropOldest: boolean;
  spoolDir: string;
  spoolMax: number;
  /** For the file names. */
  table: string;
}

interface Batch {
  marker: string;
  n: number;
  /** The segment its rows came from (at most one). */
  seg: Segment | null;
  /** Markers the transaction deletes. */
  previous: string[];
  /** False: only the marker is committed (a refused row from a segment leaves with it). */
  send: boolean;
}

/** A value the column conversion could not take: refused like a data error. */
class ConversionError extends Error {}

/** How long close() waits for the batch in flight before it saves that batch's rows with its marker. */
const CLOSE_WAIT_MS = 1000;

/** Rows read back from disk at a time. */
const READ_ROWS = 10000;

export async function sqlOutput(ctx: OutputContext, makeDriver: () => SqlDriver, o: SqlOptions): Promise<OutputInstance> {
  const produced = new Map<string, Key>(ctx.producedKeys().map((k) => [k.name, k]));
  const mapOpts = { ignoreUnknown: o.ignoreUnknown, label: o.label };
  let driver = makeDriver();
  let read: Key[];
  let mapping: { cols: Column[]; index: number[]; convert: Array<(v: unknown) => unknown> } | null = null;

  const buildMapping = (columns: Column[]) => {
    const m = mapColumns(columns, produced, mapOpts);
    if (m.ignored.length) ctx.log.warn(`${driver.describe}: columns ${m.ignored.join(', ')} map to no key and stay empty`);
    if (m.narrow.length) ctx.log.warn(`${driver.describe}: values these columns cannot hold are written as NULL: ${m.narrow.join('; ')}`);
    mapping = {
      cols: m.mapped.map((x) => x.column),
      index: m.mapped.map((x) => (x.key ? read.findIndex((k) => k.name === x.key!.name) : -1)),
      convert: m.mapped.map((x) => x.convert),
    };
  };

  // The table's columns choose the keys, so they are read here, read-only, when the database is
  // there: then only their keys are decoded. The connection is closed again before create()
  // returns (the contract: create opens nothing that stays open); the writer connects on its own.
  let columns: Column[] | null = null;
  try {
    await driver.connect();
    columns = await driver.columns();
  } catch (err) {
    ctx.log.warn(`${driver.describe}: ${(err as Error).message}; starting anyway, rows wait until it is reachable`);
  }
  await driver.close().catch(() => undefined);
  driver = makeDriver();
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
  const slots = read.map((k) => k.slot);
  const readNames = read.map((k) => k.name);
  const base = `${ctx.name.replace(/[^A-Za-z0-9_-]/g, '_')}-group${ctx.group}-${o.table}`;
  const disk = new DiskQueue(o.spoolDir, base, readNames, o.spoolMax);
  const reject = new RejectFile(path.join(o.spoolDir, `${base}.rejected`), o.table, readNames);
  ctx.counters.extra.rejected = 0;
  ctx.counters.extra.corrupt = 0;
  // Rows left by earlier runs (at exit, or in the overflow file at a crash) go first.
  if (!ctx.checkOnly) {
    disk.load();
    for (const f of disk.unreadable) {
      ctx.counters.errors++;
      ctx.log.error(`${driver.describe}: ${f} has no readable header; renamed to ${path.basename(f)}.bad and left out`);
    }
    if (disk.segments.length) ctx.log.info(`${driver.describe}: rows from ${disk.segments.length} file(s) in ${o.spoolDir} will be written first`);
  }

  // The durability signal: a ticket per row this run accepted, oldest first, settled when the row
  // leaves the queue (committed, or refused), is dropped, or is spooled at close. Rows of files
  // earlier runs left have none: this run never received them.
  const commits = new CommitQueue(ctx.commit);
  let tickets: number[] = [];
  let tHead = 0;
  const earlier = new Set(disk.segments);
  const ours = (f: Origin | null) => !f || !earlier.has(f.seg);
  /** This run's rows among the first n of the queue. */
  const oursAhead = (n: number) => {
    let k = 0;
    for (let i = 0; i < n; i++) if (ours(queue.origin(i))) k++;
    return k;
  };
  /** The oldest k rows of this run are settled. */
  const settleOldest = (k: number) => {
    if (k <= 0) return;
    commits.settleThrough(tickets[tHead + k - 1]);
    tHead += k;
    if (tHead >= 4096 && tHead * 2 >= tickets.length) {
      tickets = tickets.slice(tHead);
      tHead = 0;
    }
  };

  const queue = new RowQueue();
  let connected = false;
  let writing = false;
  /** The writer loop running now, if any: close() waits a little for its batch in flight. */
  let writer: Promise<void> | null = null;
  let stopped = false;
  /** close() has counted what is left as spooled or dropped: a batch committing later changes no counter. */
  let accounted = false;
  const backoff = new Backoff();
  const failures = new ErrorReporter(ctx.log);
  const drops = new ErrorReporter(ctx.log, { level: 'warn' });
  const dropLine = () =>
    `${driver.describe}: buffer and ${o.spoolDir} full, dropping the ${o.dropOldest ? 'oldest' : 'newest'} rows (${ctx.counters.dropped} so far)`;
  const rejects = new ErrorReporter(ctx.log, { level: 'warn' });
  let timer: NodeJS.Timeout | null = null;
  let idle: Array<() => void> = [];
  const token = `${os.hostname()}:${process.pid}:${Date.now().toString(36)}:${ctx.name}:${ctx.group}`;
  let batchSeq = 0;
  let inflight: Batch | null = null;
  /** Markers no longer needed, deleted by the next transaction. */
  let obsolete: string[] = [];
  /** Rows at the front that a refused batch held: sent in halves until the refused ones are found. */
  let suspect = 0;
  let limit = 0;
  let onDisk = false;
  /** The last row fitted nowhere, and no room was made since. */
  let full = false;
  let markersReady = false;
  let lostAt = 0;

  const toRow = (raw: unknown[]): unknown[] => {
    const m = mapping!;
    const row = new Array(m.cols.length);
    for (let i = 0; i < row.length; i++) {
      const j = m.index[i];
      try {
        row[i] = j < 0 ? m.convert[i](undefined) : raw[j] === undefined ? null : m.convert[i](raw[j]);
      } catch (err) {
        throw new ConversionError(`column ${m.cols[i].name}: ${(err as Error).message}`);
      }
    }
    return row;
  };

  /** Rows the disk could not take (a full or failing disk) are dropped, and counted. */
  const countLost = () => {
    if (!disk.lost) return;
    ctx.counters.dropped += disk.lost;
    // The rows lost are the newest: everything after the first row gathered for the disk went there too.
    const from = Math.max(tHead, tickets.length - disk.lost);
    for (let i = from; i < tickets.length; i++) commits.settle(tickets[i]);
    tickets.length = from;
    ctx.counters.errors++;
    lostAt = Date.now();
    ctx.log.error(`${driver.describe}: cannot write to ${o.spoolDir}: ${disk.lastError}; ${disk.lost} rows dropped`);
    disk.lost = 0;
  };

  /** Rows of a segment are accounted for: the file goes once all of it is (never after close: the next start replays by marker). */
  const release = (seg: Segment, rows: number) => {
    if (stopped) {
      seg.outstanding -= rows;
      return;
    }
    if (disk.release(seg, rows)) obsolete.push(...seg.markers);
  };

  const makeBatch = (n: number, seg: Segment | null, end: number): Batch =>
    seg
      ? { marker: `${seg.id}:${end}`, n, seg, previous: [...obsolete, ...seg.markers], send: true }
      : { marker: `${token}:${++batchSeq}`, n, seg: null, previous: [...obsolete], send: true };

  const nextBatch = (): Batch => {
    let n = Math.min(queue.length, o.batch);
    if (suspect > 0) n = Math.min(n, limit, suspect);
    // One segment per batch at most: its marker records that segment's progress.
    let seg: Segment | null = null;
    let end = 0;
    for (let i = 0; i < n; i++) {
      const f = queue.origin(i);
      if (!f) continue;
      if (seg && f.seg !== seg) {
        n = i;
        break;
      }
      seg = f.seg;
      end = f.end;
    }
    return makeBatch(n, seg, end);
  };

  /** A committed batch leaves the queue. */
  const done = (b: Batch) => {
    inflight = null;
    if (accounted) return; // saved with the batch's marker at close: the next start skips what committed
    if (b.send) ctx.counters.sent += b.n;
    if (b.seg) {
      b.seg.markers = [b.marker];
      obsolete = [];
    } else {
      obsolete = [b.marker];
    }
    suspect = Math.max(0, suspect - b.n);
    settleOldest(oursAhead(b.n));
    let fromSeg = 0;
    queue.shift(b.n, () => fromSeg++);
    full = false;
    if (b.seg && fromSeg) release(b.seg, fromSeg);
  };

  /** The database refused a batch: halve it, or set the one row aside. */
  const refuse = (b: Batch, err: Error) => {
    if (b.n > 1) {
      suspect = b.n;
      limit = Math.ceil(b.n / 2);
      return;
    }
    const row = queue.first(1)[0];
    ctx.counters.dropped++;
    try {
      reject.write(row, err.message, b.marker);
      ctx.counters.extra.rejected++; // counted as dropped too; `rejected` says how many are in the reject file
    } catch (werr) {
      ctx.counters.errors++;
      ctx.log.error(`${driver.describe}: cannot write ${reject.file}: ${(werr as Error).message}; the refused row is dropped`);
    }
    rejects.failure(`${driver.describe}: the database refused a row (${err.message}); set aside in ${reject.file} (${ctx.counters.extra.rejected} so far)`);
    // A row from a segment leaves with a marker-only commit, so a replay does not refuse it again.
    if (b.seg) {
      inflight = { ...b, send: false };
      return;
    }
    suspect = Math.max(0, suspect - 1);
    settleOldest(oursAhead(1));
    queue.shift(1, () => undefined);
  };

  /** The progress of the segments earlier runs left, from their markers in the database. */
  const resolveSegments = async () => {
    for (const seg of disk.segments) {
      if (seg.resolved) continue;
      const found = await driver.markers(`${seg.id}:`);
      let at = -1;
      for (const m of found) at = Math.max(at, Number(m.slice(seg.id.length + 1)));
      seg.markers = found;
      if (at > seg.readPos) {
        seg.readPos = Math.min(at, seg.size);
      } else if (seg.skip && seg.skip.n > 0 && (await driver.committed(seg.skip.marker))) {
        seg.skipRows(seg.skip.n);
        seg.markers.push(seg.skip.marker);
      }
      seg.resolved = true;
    }
    for (const seg of [...disk.segments]) release(seg, 0); // written completely before the crash
  };

  /** Rows from disk into memory while there is room. */
  const refill = (): boolean => {
    if (!disk.resolved) return true;
    try {
      while (disk.unread && queue.length < o.buffer / 2 && queue.bytes < o.bufferBytes / 2) {
        const r = disk.read(Math.min(READ_ROWS, o.buffer - queue.length));
        if (!r) break;
        const { seg, got } = r;
        for (let i = 0; i < got.rows.length; i++) queue.push(got.rows[i], rowBytes(got.rows[i]), { seg, end: got.ends[i] });
        if (got.corrupt) {
          ctx.counters.extra.corrupt += got.corrupt;
          ctx.counters.errors++;
          ctx.log.error(`${driver.describe}: ${got.corrupt} torn or damaged line(s) in ${seg.file} skipped`);
        }
        if (!got.rows.length) release(seg, 0);
      }
      return true;
    } catch (err) {
      ctx.counters.errors++;
      ctx.log.error(`${driver.describe}: cannot read ${o.spoolDir}: ${(err as Error).message}; retrying in 1 s`);
      return false;
    }
  };

  const pump = (): Promise<void> => {
    if (writing || stopped) return writer ?? Promise.resolve();
    writing = true;
    writer = write();
    return writer;
  };

  const write = async (): Promise<void> => {
    try {
      while (!stopped && (queue.length || disk.unread)) {
        if (!connected) {
          await driver.connect();
          if (!mapping) buildMapping(await driver.columns());
          connected = true;
          failures.recovered(`${driver.describe}: connected again, writing ${queue.length} waiting rows`);
          backoff.reset();
          markersReady = false;
        }
        if (!markersReady) {
          await driver.ensureMarkers();
          if (!disk.resolved) await resolveSegments();
          markersReady = true;
          if (inflight && (await driver.committed(inflight.marker))) {
            // The last COMMIT went through though its answer was lost.
            done(inflight);
            continue;
          }
        }
        if (!refill()) {
          timer ??= setTimeout(() => {
            timer = null;
            void pump();
          }, 1000);
          break;
        }
        if (!queue.length) break;
        // A batch that failed is sent again with the same rows and marker.
        const b = (inflight ??= nextBatch());
        try {
          await driver.insert(mapping!.cols, b.send ? queue.first(b.n).map(toRow) : [], b.marker, b.previous);
        } catch (err) {
          if (!b.send || !(err instanceof ConversionError || driver.isDataError(err))) throw err;
          inflight = null; // refused: nothing of it was committed
          refuse(b, err as Error);
          continue;
        }
        done(b);
      }
    } catch (err) {
      ctx.counters.errors++;
      failures.failure(`${driver.describe}: ${(err as Error).message}; ${queue.length} rows wait, retrying`);
      connected = false;
      await driver.close().catch(() => undefined);
      if (!stopped) {
        driver = makeDriver();
        timer = setTimeout(() => {
          timer = null;
          void pump();
        }, backoff.next());
      }
    } finally {
      writing = false;
      writer = null;
      if (!queue.length && !disk.unread) {
        const w = idle;
        idle = [];
        for (const fn of w) fn();
      }
    }
  };

  const memoryFull = (size: number) => queue.length >= o.buffer || queue.bytes + size > o.bufferBytes;

  return {
    async start() {
      if (disk.segments.length) void pump(); // rows from disk do not wait for the next packet
    },
    async ready() {
      // After the privilege drop: every file of this output is written as the user the daemon runs as.
      const probe = path.join(o.spoolDir, `.probe-${process.pid}`);
      try {
        fs.mkdirSync(o.spoolDir, { recursive: true, mode: 0o700 });
        fs.writeFileSync(probe, '');
        fs.rmSync(probe);
      } catch (err) {
        ctx.fail(`cannot write ${o.spoolDir}: ${(err as Error).message}`, `${o.prefix}spooldir`);
      }
    },
    write(rec) {
      const raw = new Array(slots.length);
      for (let i = 0; i < slots.length; i++) {
        const s = slots[i];
        if (!rec.present[s]) continue;
        const v = rec.values[s];
        // A copy: a view would keep the whole netlink datagram alive while the row waits.
        raw[i] = v instanceof Uint8Array ? new Uint8Array(v) : v;
      }
      const size = rowBytes(raw);
      if (memoryFull(size) || disk.unread) {
        if (disk.push(raw)) {
          if (!onDisk) {
            onDisk = true;
            ctx.log.warn(`${driver.describe}: ${queue.length} rows wait in memory; further rows wait in ${o.spoolDir}`);
          }
          full = false;
          tickets.push(commits.hold(1));
          return;
        }
        full = true;
        ctx.counters.dropped++;
        drops.failure(dropLine);
        const at = inflight ? inflight.n : 0; // never a row of the batch in flight
        if (!o.dropOldest || queue.length <= at) {
          commits.now(1);
          return;
        }
        const mine = ours(queue.origin(at)) ? tHead + oursAhead(at) : -1;
        const f = queue.dropAt(at);
        if (f) release(f.seg, 1);
        if (mine >= 0) {
          commits.settle(tickets[mine]);
          tickets.splice(mine, 1);
        }
      } else if (onDisk && !disk.segments.length) {
        onDisk = false;
      }
      queue.push(raw, size);
      tickets.push(commits.hold(1));
    },
    endBatch() {
      disk.writeOut();
      countLost();
      if (!timer) void pump();
    },
    busy() {
      // Only while rows fit nowhere: then they are better off in the kernel's buffer for a while.
      return full || Date.now() - lostAt < 1000;
    },
    async flush() {
      // With the server away there is nothing to wait for: close() keeps the rows.
      if ((!queue.length && !disk.unread) || (!connected && failures.failing)) return;
      void pump();
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 5000);
        idle.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
    async close() {
      stopped = true;
      if (timer) clearTimeout(timer);
      // A batch in flight usually commits within moments: then its rows count as sent, not spooled.
      if (writer) {
        let wait: NodeJS.Timeout | undefined;
        await Promise.race([writer, new Promise((r) => (wait = setTimeout(r, CLOSE_WAIT_MS)))]);
        clearTimeout(wait);
      }
      // Rows from segments stay in their files; the rest is saved in a new one. Its first rows may be
      // in the table already, if the batch in flight commits: its marker tells the next start.
      const waiting = queue.all();
      const fresh: unknown[][] = [];
      for (const w of waiting) if (!w.from) fresh.push(w.row);
      let inFlightFresh = 0;
      if (inflight?.send) for (let i = 0; i < inflight.n && i < waiting.length; i++) if (!waiting[i].from) inFlightFresh++;
      let kept = 0;
      try {
        disk.writeOut();
        countLost();
        kept = disk.save(fresh, inFlightFresh ? { marker: inflight!.marker, n: inFlightFresh } : null);
      } catch (err) {
        ctx.counters.errors++;
        ctx.log.error(`${driver.describe}: cannot write to ${o.spoolDir}: ${(err as Error).message}`);
      }
      ctx.counters.dropped += fresh.length - kept;
      // Saved now, or in the files written meanwhile: written at the next start (fresh rows are all this run's).
      // A refused row whose marker-only commit was still due is counted as dropped already.
      const refusedDue = inflight && !inflight.send && ours(queue.origin(0)) ? 1 : 0;
      const spooled = tickets.length - tHead - fresh.length + kept - refusedDue;
      accounted = true;
      if (spooled > 0) ctx.counters.add('spooled', spooled);
      commits.settleAll();
      const onDiskBefore = disk.segments.length - (kept ? 1 : 0);
      try {
        disk.close();
      } catch {
        /* flushed what it could; the next start reads what is there */
      }
      reject.close();
      if (fresh.length || onDiskBefore) {
        ctx.log.warn(
          `${driver.describe}: ${kept} rows not yet written are kept in ${o.spoolDir}${kept < fresh.length ? `; ${fresh.length - kept} over ${o.prefix}spoolmax dropped` : ''}${onDiskBefore ? `, with ${onDiskBefore} earlier file(s) there` : ''}`,
        );
      }
      await driver.close().catch(() => undefined);
    },
  };
}
