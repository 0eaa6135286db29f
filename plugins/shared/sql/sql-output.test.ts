/**
 * The SQL plumbing against a database with faults switched on (fake-db.ts):
 * every row the output accepted ends in the table, the reject file or the
 * dropped counter, once; a crash (the spool directory copied as it is, the
 * process gone) replays what was on disk exactly once.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import { tempDir } from '../../../test/daemon.js';
import { outputHarness } from '../../../test/output-harness.js';
import { waitFor } from '../../../test/netns.js';
import { defineOutput, type OptionValue, type OptionValuesOf } from 'specter/plugin';
import { FakeDb } from './fake-db.js';
import { type SqlOptionSpecs, sqlOptions, sqlOptionSpecs } from './options.js';
import { sqlOutput } from './sql-output.js';

const plugin = (db: FakeDb) =>
  defineOutput({
    name: 'FAKESQL',
    description: 'the SQL plumbing over a fake database',
    options: sqlOptionSpecs('t'),
    create: (ctx) => sqlOutput(ctx, () => db.driver(), { ...sqlOptions('t', ctx.options), table: 'ulog' }),
  });

describe('the SQL option table', () => {
  it('names every option with the prefix, and reads them back typed', () => {
    const specs = sqlOptionSpecs('pgsql');
    assert.deepEqual(Object.keys(specs), [
      'pgsqlignore',
      'pgsqllabel',
      'pgsqlbatch',
      'pgsqlbuffer',
      'pgsqlbuffersize',
      'pgsqloverflow',
      'pgsqlspooldir',
      'pgsqlspoolmax',
    ]);
    const values = {
      pgsqlignore: true,
      pgsqllabel: 3,
      pgsqlbatch: 10,
      pgsqlbuffer: 20,
      pgsqlbuffersize: 65536,
      pgsqloverflow: 'dropoldest',
      pgsqlspooldir: '/s',
      pgsqlspoolmax: 99,
    } as const;
    const o = sqlOptions('pgsql', values);
    assert.deepEqual(o, {
      prefix: 'pgsql',
      ignoreUnknown: true,
      label: 3,
      batch: 10,
      buffer: 20,
      bufferBytes: 65536,
      dropOldest: true,
      spoolDir: '/s',
      spoolMax: 99,
    });
    // Checked by the compiler: ctx.options of a definition with this table types each option.
    const typed = (v: OptionValuesOf<SqlOptionSpecs<'pgsql'>>) => {
      const batch: number = v.pgsqlbatch;
      const spool: string = v.pgsqlspooldir;
      const overflow: 'dropnewest' | 'dropoldest' = v.pgsqloverflow;
      // @ts-expect-error a size is a number
      const bad: string = v.pgsqlspoolmax;
      // @ts-expect-error another prefix's options are not there
      void v.mysqlbatch;
      return [batch, spool, overflow, bad];
    };
    assert.deepEqual(typed(values), [10, '/s', 'dropoldest', 99]);
  });
});

const dirs: string[] = [];
const open: Array<{ instance: { close(): Promise<void> } }> = [];
afterEach(async () => {
  for (const h of open.splice(0)) await h.instance.close();
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

async function start(db: FakeDb, spooldir: string, opts: { [k: string]: OptionValue } = {}) {
  const h = await outputHarness(plugin(db), { tspooldir: spooldir, ...opts });
  open.push(h);
  return h;
}

function dir(): string {
  const d = tempDir('specter-sql-');
  dirs.push(d);
  return d;
}

/** A crash: the spool directory as it is at this instant, for the next start. */
function snapshot(from: string): string {
  const to = path.join(dir(), 'spool');
  fs.cpSync(from, to, { recursive: true });
  return to;
}

const files = (d: string, ext: string) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith(ext)) : []);
const prefixes = (db: FakeDb) => db.rows.map((r) => r[0]);
const seq = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => `p${from + i}`);

describe('SQL output under faults', { timeout: 60000 }, () => {
  it('an unwritable spool directory drops and counts only new rows; queued rows are written and close() does not throw', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'file'), '');
    const db = new FakeDb(['oob_prefix']);
    const h = await start(db, path.join(d, 'file', 'spool'), { tbuffer: 10 });
    db.down = true;
    for (let i = 0; i < 30; i++) h.packet({ 'oob.prefix': `p${i}` });
    db.down = false;
    await waitFor(() => h.counters.sent === 10, 10000, 'the 10 queued rows');
    assert.deepEqual(prefixes(db), seq(0, 10));
    assert.equal(h.counters.dropped, 20);
    await h.instance.close();
    assert.equal(h.counters.sent + h.counters.dropped, h.counters.received);
  });

  it('ready() refuses a spool directory it cannot write, in one line naming the option', async () => {
    const d = dir();
    fs.writeFileSync(path.join(d, 'file'), '');
    const h = await start(new FakeDb(['oob_prefix']), path.join(d, 'file', 'spool'));
    await assert.rejects(h.instance.ready!(), (err: Error) => /^FAKESQL option "tspooldir": cannot write .*file\/spool: ENOTDIR[^\n]*$/.test(err.message));
  });

  it('rows on disk survive a crash and are written once at the next start, in order', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix']);
    db.down = true;
    const h = await start(db, d, { tbuffer: 5 });
    for (let i = 0; i < 40; i++) h.packet({ 'oob.prefix': `p${i}` });
    const crashed = snapshot(d);
    assert.equal(files(crashed, '.rows').length, 1);
    const db2 = new FakeDb(['oob_prefix']);
    const h2 = await start(db2, crashed, { tbatch: 7 });
    await waitFor(() => db2.rows.length === 35 && files(crashed, '.rows').length === 0, 10000, 'the 35 rows on disk');
    assert.deepEqual(prefixes(db2), seq(5, 40));
    assert.equal(h2.counters.sent, 35);
  });

  it('a replay cut by a crash, also right after a COMMIT whose answer was lost, goes on where the markers say', async () => {
    const d = path.join(dir(), 'spool');
    const down = new FakeDb(['oob_prefix']);
    down.down = true;
    const h = await start(down, d, { tbuffer: 1 });
    for (let i = 0; i < 100; i++) h.packet({ 'oob.prefix': `p${i}` });
    await h.instance.close(); // p0 saved at exit, p1..p99 in the overflow file
    const db = new FakeDb(['oob_prefix']);
    db.commitsLeft = 3;
    let crashed = snapshot(d);
    const h2 = await start(db, crashed, { tbatch: 10 });
    await waitFor(() => db.inserts === 4, 10000, 'three commits and a hang');
    crashed = snapshot(crashed);
    db.commitsLeft = 2;
    db.loseAnswer = true;
    const before = db.inserts;
    const h3 = await start(db, crashed, { tbatch: 10 });
    await waitFor(() => db.inserts === before + 3, 10000, 'a commit whose answer is lost, another, and a hang');
    crashed = snapshot(crashed);
    db.commitsLeft = Infinity;
    await start(db, crashed, { tbatch: 10 });
    await waitFor(() => db.rows.length >= 100 && files(crashed, '.rows').length === 0, 10000, 'every row');
    assert.deepEqual([...prefixes(db)].sort(), seq(0, 100).sort(), 'each row once');
    assert.ok(h2.counters.sent > 0 && h3.counters.sent > 0);
  });

  it('an insert that commits during close() leaves the rows saved at exit, and the next start skips them', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix']);
    const release = db.holdInserts();
    const h = await start(db, d);
    for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `p${i}` });
    await waitFor(() => db.inserts === 1, 5000, 'the batch in flight');
    await h.instance.close();
    release();
    await waitFor(() => db.rows.length === 5, 5000, 'the commit');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(files(d, '.rows').length, 1, 'the file saved at exit stays');
    // Counted once, as spooled: the commit after close changes no counter.
    assert.deepEqual([h.counters.sent, h.counters.extra.spooled], [0, 5]);
    await start(db, d);
    await waitFor(() => files(d, '.rows').length === 0, 5000, 'the file to go');
    assert.deepEqual(prefixes(db), seq(0, 5), 'no row twice');
  });

  it('close() waits a moment for the batch in flight: rows it commits count as sent, not spooled', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix']);
    const release = db.holdInserts();
    const h = await start(db, d, { tbatch: 3 });
    for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `p${i}` });
    await waitFor(() => db.inserts === 1, 5000, 'the batch in flight');
    setTimeout(release, 100);
    await h.instance.close();
    assert.deepEqual(prefixes(db), seq(0, 3));
    assert.deepEqual([h.counters.sent, h.counters.extra.spooled], [3, 2]);
    await start(db, d);
    await waitFor(() => files(d, '.rows').length === 0, 5000, 'the file to go');
    assert.deepEqual(prefixes(db), seq(0, 5), 'no row twice');
  });

  it('in a file without checksums (earlier versions), torn and damaged lines are counted and skipped; long UTF-8 lines across read chunks stay whole', async () => {
    const d = path.join(dir(), 'spool');
    fs.mkdirSync(d);
    const long = (i: number) => `${'ü'.repeat(700)}€${i}`;
    const lines = [JSON.stringify({ id: '00112233aabbccdd', keys: ['oob.prefix'] })];
    for (let i = 0; i < 3000; i++) {
      lines.push(JSON.stringify([long(i)]));
      if (i === 10) lines.push('{{{ not json');
      if (i === 20) lines.push('"not an array"');
    }
    fs.writeFileSync(path.join(d, 'FAKESQL-group1-ulog.00000000000001-000001.rows'), lines.join('\n') + '\n["torn');
    const db = new FakeDb(['oob_prefix']);
    const h = await start(db, d, { tbatch: 1000 });
    await waitFor(() => db.rows.length === 3000 && files(d, '.rows').length === 0, 20000, 'every whole line');
    assert.deepEqual(
      prefixes(db),
      Array.from({ length: 3000 }, (_, i) => long(i)),
    );
    assert.equal(h.counters.extra.corrupt, 3);
  });

  it('a spooled row changed on disk but still valid JSON fails its checksum: counted and skipped, the others written', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix', 'udp_sport']);
    db.down = true;
    const h = await start(db, d);
    for (let i = 0; i < 10; i++) h.packet({ 'oob.prefix': `p${i}`, 'udp.sport': 1000 + i });
    await h.instance.close();
    const [name] = files(d, '.rows');
    const file = path.join(d, name);
    const text = fs.readFileSync(file, 'utf8');
    const changed = text.replace(/("p4",(?:null,)*)1004,/, '$11005,'); // one bit of a digit flipped
    assert.notEqual(changed, text, 'the row is in the file');
    fs.writeFileSync(file, changed);
    db.down = false;
    const again = await start(db, d);
    await waitFor(() => files(d, '.rows').length === 0, 5000, 'the file to go');
    assert.deepEqual(
      prefixes(db),
      seq(0, 10).filter((p) => p !== 'p4'),
    );
    assert.equal(again.counters.extra.corrupt, 1);
  });

  it('rows the database refuses are found by halving the batch, set aside in the reject file and counted; the rest is written', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix', 'udp_sport']);
    db.refuse = (r) => String(r[0]).startsWith('bad');
    const h = await start(db, d, { tbatch: 20 });
    const bad = new Set([3, 17, 18, 41]);
    for (let i = 0; i < 50; i++) h.packet({ 'oob.prefix': bad.has(i) ? `bad${i}` : `p${i}`, 'udp.sport': i });
    await waitFor(() => h.counters.sent + h.counters.extra.rejected === 50, 10000, 'every row written or set aside');
    assert.deepEqual(
      prefixes(db),
      seq(0, 50).filter((_, i) => !bad.has(i)),
    );
    const rejected = fs
      .readFileSync(path.join(d, 'FAKESQL-group1-ulog.rejected'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      rejected.map((r) => r.row),
      [...bad].map((i) => ({ 'oob.prefix': `bad${i}`, 'udp.sport': i })),
    );
    for (const r of rejected) {
      assert.equal(r.table, 'ulog');
      assert.match(r.reason, /value refused: bad/);
      assert.ok(Date.now() - Date.parse(r.time) < 60000);
    }
    assert.equal(h.counters.dropped, 4);
    assert.equal(h.counters.sent + h.counters.dropped, h.counters.received);
  });

  it('refused rows replayed from disk are set aside once, with a marker commit', async () => {
    const d = path.join(dir(), 'spool');
    const down = new FakeDb(['oob_prefix']);
    down.down = true;
    const h = await start(down, d, { tbuffer: 2 });
    for (let i = 0; i < 30; i++) h.packet({ 'oob.prefix': i % 10 === 5 ? `bad${i}` : `p${i}` });
    await h.instance.close();
    const db = new FakeDb(['oob_prefix']);
    db.refuse = (r) => String(r[0]).startsWith('bad');
    const h2 = await start(db, d, { tbatch: 8 });
    await waitFor(() => files(d, '.rows').length === 0, 10000, 'the files to go');
    assert.equal(db.rows.length, 27);
    assert.equal(h2.counters.extra.rejected, 3);
    assert.equal(fs.readFileSync(path.join(d, 'FAKESQL-group1-ulog.rejected'), 'utf8').trim().split('\n').length, 3);
  });

  it('bounds memory in bytes, keeps its own copy of packet bytes, and is busy only when a row fits nowhere', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix', 'raw_pkt']);
    db.down = true;
    const h = await start(db, d, { tbuffer: 100000, tbuffersize: 64 * 1024, tspoolmax: 512 * 1024 });
    const datagram = Buffer.alloc(64 * 1024);
    for (let i = 0; i < 100; i++) {
      datagram.fill(i & 0xff);
      h.packet({ 'oob.prefix': `p${i}`, 'raw.pkt': datagram.subarray(100, 2100) });
    }
    datagram.fill(0xee); // the netlink layer reuses its buffer
    const onDisk =
      fs
        .readFileSync(path.join(d, files(d, '.rows')[0]), 'utf8')
        .trim()
        .split('\n').length - 1;
    assert.ok(onDisk >= 65 && onDisk < 100, `${onDisk} rows on disk`);
    assert.equal(h.instance.busy!(), false, 'rows still fit on disk');
    for (let i = 100; i < 400; i++) h.packet({ 'oob.prefix': `p${i}`, 'raw.pkt': datagram.subarray(0, 2000) });
    assert.ok(h.counters.dropped > 0);
    assert.equal(h.instance.busy!(), true, 'memory and disk full');
    db.down = false;
    await waitFor(() => h.counters.sent + h.counters.dropped === 400, 10000, 'every row written or dropped').catch((err) => {
      throw new Error(`${(err as Error).message}: ${JSON.stringify(h.counters.snapshot())}`);
    });
    for (let i = 0; i < 100; i++) {
      assert.equal(db.rows[i][0], `p${i}`);
      assert.deepEqual([...new Set(db.rows[i][1] as Uint8Array)], [i & 0xff]);
    }
  });

  it('dropoldest drops the oldest rows behind the batch in flight, in place', async () => {
    const d = path.join(dir(), 'spool');
    const db = new FakeDb(['oob_prefix']);
    const release = db.holdInserts();
    const h = await start(db, d, { tbuffer: 10, tbatch: 5, tspoolmax: 1, toverflow: 'dropoldest' });
    for (let i = 0; i < 10; i++) h.packet({ 'oob.prefix': `p${i}` });
    await waitFor(() => db.inserts === 1, 5000, 'the batch in flight (p0..p4)');
    for (let i = 10; i < 30; i++) h.packet({ 'oob.prefix': `p${i}` });
    release();
    await waitFor(() => h.counters.sent === 10, 5000, 'the rest');
    assert.deepEqual(prefixes(db), [...seq(0, 5), ...seq(25, 30)]);
    assert.equal(h.counters.dropped, 20);
  });
});
