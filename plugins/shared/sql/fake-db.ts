/**
 * A database in memory behind the SqlDriver interface, with faults a test can
 * switch on: down, hanging, refusing rows, or committing and then losing the
 * answer. Transactions are all or nothing, as in a real server. (Test code.)
 */
import type { Column } from './columns.js';
import type { SqlDriver } from './sql-output.js';

export class FakeDb {
  rows: unknown[][] = [];
  markers = new Set<string>();
  down = false;
  /** Inserts wait until this is cleared (a stalled connection). */
  hold: Promise<void> | null = null;

  /** Inserts wait from now on; the function returned lets them (and later ones) through. */
  holdInserts(): () => void {
    let release!: () => void;
    this.hold = new Promise<void>((r) => {
      release = r;
    });
    return () => {
      release();
      this.hold = null;
    };
  }
  /** The next insert commits, then fails as if the answer were lost. */
  loseAnswer = false;
  /** Rows this returns true for are refused as a data error. */
  refuse: (row: unknown[]) => boolean = () => false;
  /** Commits to allow before the next insert hangs for ever (a crash in the middle of a replay). */
  commitsLeft = Infinity;
  inserts = 0;
  readonly columns: Column[];

  constructor(names: string[]) {
    this.columns = names.map((name) => ({ name, type: name.endsWith('port') ? 'integer' : name.startsWith('raw') ? 'bytea' : 'text', generated: false }));
  }

  driver(): SqlDriver {
    const db = this;
    let open = false;
    const need = () => {
      if (!open || db.down) throw new Error('connection lost');
    };
    return {
      describe: 'Fake db.ulog',
      async connect() {
        if (db.down) throw new Error('connection refused');
        open = true;
      },
      async columns() {
        need();
        return db.columns;
      },
      async ensureMarkers() {
        need();
      },
      async committed(m) {
        need();
        return db.markers.has(m);
      },
      async markers(prefix) {
        need();
        return [...db.markers].filter((m) => m.startsWith(prefix));
      },
      isDataError: (err) => (err as { data?: boolean }).data === true,
      async insert(_cols, rows, marker, previous) {
        need();
        db.inserts++;
        if (db.commitsLeft <= 0) await new Promise(() => undefined);
        if (db.hold) await db.hold; // the server has the batch: it commits whatever happens to us meanwhile
        const bad = rows.find((r) => db.refuse(r));
        if (bad) throw Object.assign(new Error(`value refused: ${String(bad[0])}`), { data: true });
        if (db.markers.has(marker)) throw new Error(`duplicate marker ${marker}`);
        db.rows.push(...rows);
        for (const p of previous) db.markers.delete(p);
        db.markers.add(marker);
        db.commitsLeft--;
        if (db.loseAnswer) {
          db.loseAnswer = false;
          throw new Error('connection lost after COMMIT');
        }
      },
      async close() {
        open = false;
      },
    };
  }
}
