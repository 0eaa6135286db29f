/**
 * The fault-injection suite of the server SQL outputs, run through the kernel
 * against the real server behind a proxy on a Unix socket: links cut before a
 * COMMIT, after it (the answer lost) and in the middle of a batch, sessions
 * killed from the server side, rows the table refuses, a spool directory on a
 * full disk, and kill -9 of the daemon at each step of a batch while it
 * replays its spool. After each run: rows in the table + rows in the reject
 * file + rows counted as dropped (besides the rejected ones) = rows received,
 * and no row twice (oob.seq.local is unique per packet of a run). Beside it,
 * without the kernel, a link that stops answering (stalledLink).
 * (Test code shared by the PGSQL and MYSQL tests.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, ROOT, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import { outputHarness } from '../../../test/output-harness.js';
import type { OptionValue, PluginDefinition } from 'specter/plugin';
import { TcpProxy } from './tcp-proxy.js';

export interface FaultServer {
  plugin: string;
  /** Creates the database with table ulog (a CHECK refuses oob_seq_local % 199 = 13). */
  create(db: string): void;
  drop(db: string): void;
  count(db: string, sql: string): number;
  /** The server's own socket. */
  socket: string;
  /** The proxy's socket path in `dir`, and the plugin's config lines to reach it. */
  proxied(db: string, dir: string): { sock: string; conf: string };
  /** Bytes in a client chunk that carries a batch's rows, and a COMMIT. */
  rowsMark: (chunk: Buffer) => boolean;
  /** Ends every session of `db` from the server side. */
  killSessions(db: string): void;
}

const isCommit = (chunk: Buffer) => chunk.includes('COMMIT');

interface Run {
  dir: string;
  db: string;
  ns: NetNs;
  proxy: TcpProxy;
  conf: string;
  spool: string;
  gen: string;
  /** Where the proxy listens. */
  sock: string;
  /** Starts the daemon (killed at the end of the run if still there). */
  daemon(): Daemon;
}

async function withRun(s: FaultServer, name: string, body: (r: Run) => Promise<void>): Promise<void> {
  const dir = tempDir();
  const db = `specter_${name}${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs(`spt-${name}`);
  const proxy = new TcpProxy({ path: s.socket });
  const daemons: Daemon[] = [];
  try {
    s.create(db);
    const { sock, conf } = s.proxied(db, dir);
    const spool = path.join(dir, 'spool');
    fs.mkdirSync(spool);
    ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9400 log group 7 drop\n }\n}\n');
    const gen = path.join(dir, 'udpflood');
    execFileSync('cc', ['-O2', '-o', gen, path.join(ROOT, 'bench', 'udpflood.c')]);
    const text = `global {\n logfile stderr\n loglevel 3\n}\n7 {\n plugin BASE\n plugin ${s.plugin}\n${conf}\n ${s.plugin.toLowerCase()}spooldir ${spool}\n ${s.plugin.toLowerCase()}buffer 200\n ${s.plugin.toLowerCase()}batch 100\n}\n`;
    const conf2 = writeConfig(dir, text);
    const daemon = () => {
      const d = new Daemon(ns, conf2);
      daemons.push(d);
      return d;
    };
    await body({ dir, db, ns, proxy, conf: conf2, spool, gen, sock, daemon });
  } catch (err) {
    for (const d of daemons)
      if (d.proc.exitCode === null)
        console.error(
          d.stderr
            .split('\n')
            .filter((l) => !l.includes('"level":30'))
            .slice(-15)
            .join('\n'),
        );
    throw err;
  } finally {
    for (const d of daemons) d.proc.kill('SIGKILL');
    await proxy.close().catch(() => undefined);
    ns.delete();
    s.drop(db);
    try {
      execFileSync('umount', [path.join(dir, 'spool')], { stdio: 'ignore' });
    } catch {
      /* not mounted */
    }
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const rejectLines = (spool: string) =>
  fs
    .readdirSync(spool)
    .filter((f) => f.endsWith('.rejected'))
    .reduce((n, f) => n + fs.readFileSync(path.join(spool, f), 'utf8').split('\n').filter(Boolean).length, 0);

/** Every row received is in the table, in the reject file or counted as dropped; none twice. */
function checkAccounts(s: FaultServer, r: Run, c: { [k: string]: number }, what: string): void {
  const rows = s.count(r.db, 'SELECT count(*) FROM ulog');
  const distinct = s.count(r.db, 'SELECT count(DISTINCT oob_seq_local) FROM ulog');
  const rejected = rejectLines(r.spool);
  assert.equal(distinct, rows, `${what}: no row twice`);
  assert.equal(rejected, c.rejected, `${what}: the reject file holds every rejected row`);
  assert.equal(
    rows + rejected + (c.dropped - c.rejected),
    c.received,
    `${what}: table ${rows} + rejected ${rejected} + dropped ${c.dropped - c.rejected} = received ${c.received}`,
  );
  assert.equal(fs.readdirSync(r.spool).filter((f) => f.endsWith('.rows')).length, 0, `${what}: nothing left waiting`);
}

const settle = async (s: FaultServer, r: Run, ms: number) => {
  let last = -1;
  await waitFor(
    async () => {
      const n = s.count(r.db, 'SELECT count(*) FROM ulog') + rejectLines(r.spool);
      const waiting = fs.readdirSync(r.spool).some((f) => f.endsWith('.rows'));
      const same = n === last && !waiting;
      last = n;
      await new Promise((res) => setTimeout(res, 700));
      return same;
    },
    ms,
    'the table to stop growing',
  );
};

/** Links cut before, during and after COMMIT, sessions killed by the server, and refused rows, under a stream. */
export async function cutsAndRefusals(s: FaultServer): Promise<void> {
  await withRun(s, 'cut', async (r) => {
    await r.proxy.listen(r.sock);
    let commits = 0;
    let batches = 0;
    let loseAnswer = false;
    r.proxy.onData = (from, chunk) => {
      if (from === 'server') {
        if (!loseAnswer) return true;
        loseAnswer = false; // the server committed; its answer never arrives
        r.proxy.cut();
        return false;
      }
      // Faults in the first 20 transactions, then the stream catches up.
      if (isCommit(chunk) && ++commits % 4 === 1 && commits < 20) {
        r.proxy.cut(); // the COMMIT never reaches the server
        return false;
      }
      if (isCommit(chunk) && commits % 4 === 3 && commits < 20) loseAnswer = true;
      if (s.rowsMark(chunk) && ++batches % 5 === 2 && batches < 20) {
        r.proxy.cut(); // in the middle of the batch
        return false;
      }
      return true;
    };
    const daemon = r.daemon();
    await daemon.started();
    const flood = r.ns.spawn(r.gen, ['127.0.0.1', '9400', '2000', '2000', '32']);
    // Listen for the end at once: the flood may be over before the sessions are killed.
    const flooded = new Promise((res) => flood.on('exit', res));
    await new Promise((res) => setTimeout(res, 1000));
    s.killSessions(r.db);
    await flooded;
    await settle(s, r, 60000);
    assert.equal(await daemon.stop(), 0);
    const c = daemon.counters(s.plugin, 7)!;
    assert.ok(commits > 4 && c.rejected > 0, `faults happened: ${commits} commits, ${c.rejected} rejected`);
    checkAccounts(s, r, c, 'cuts and refusals');
  });
}

/** The spool directory on a full disk while the server is away: what does not fit is dropped and counted, the rest written. */
export async function fullSpoolDisk(s: FaultServer): Promise<void> {
  await withRun(s, 'full', async (r) => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', r.spool]);
    const daemon = r.daemon(); // the proxy is not listening yet: the server is away
    await daemon.started();
    const flood = r.ns.spawn(r.gen, ['127.0.0.1', '9400', '3000', '3000', '32']);
    await new Promise((res) => flood.on('exit', res));
    await waitFor(() => /cannot write to .*spool|full, dropping/.test(daemon.stderr), 5000, 'the disk to fill');
    await r.proxy.listen(r.sock);
    await settle(s, r, 60000);
    assert.equal(await daemon.stop(), 0);
    const c = daemon.counters(s.plugin, 7)!;
    assert.ok(c.dropped - c.rejected > 0, 'rows were dropped for the full disk');
    checkAccounts(s, r, c, 'full spool disk');
  });
}

/** A spool replayed by a daemon killed with SIGKILL at each step of a batch: every row once in the end. */
export async function killedDuringReplay(s: FaultServer): Promise<void> {
  await withRun(s, 'kill', async (r) => {
    // First run: the server is away; SIGTERM keeps every row in the spool.
    const first = r.daemon();
    await first.started();
    const flood = r.ns.spawn(r.gen, ['127.0.0.1', '9400', '3000', '3000', '32']);
    await new Promise((res) => flood.on('exit', res));
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(await first.stop(), 0);
    const c = first.counters(s.plugin, 7)!;
    assert.equal(c.dropped, 0);
    await r.proxy.listen(r.sock);
    const steps: Array<[string, (from: 'client' | 'server', chunk: Buffer, state: { commitSent: boolean }) => boolean]> = [
      ['rows sent', (from, chunk) => from === 'client' && s.rowsMark(chunk)],
      ['COMMIT sent', (from, chunk) => from === 'client' && isCommit(chunk)],
      ['COMMIT answered', (from, _chunk, st) => from === 'server' && st.commitSent],
    ];
    for (const [step, at] of steps) {
      const daemon = r.daemon();
      const st = { commitSent: false };
      let seen = 0;
      r.proxy.onData = (from, chunk) => {
        if (at(from, chunk, st) && ++seen === 3) {
          daemon.proc.kill('SIGKILL'); // before the chunk goes on: for an answer, after the server committed
          r.proxy.cut();
          return false;
        }
        if (from === 'client' && isCommit(chunk)) st.commitSent = true;
        if (from === 'server') st.commitSent = false;
        return true;
      };
      await daemon.wait();
      assert.equal(seen, 3, `killed at "${step}"`);
    }
    r.proxy.onData = null;
    const last = r.daemon();
    await last.started();
    await waitFor(() => !fs.readdirSync(r.spool).some((f) => f.endsWith('.rows')), 30000, 'the spool to be written');
    assert.equal(await last.stop(), 0);
    checkAccounts(s, r, { received: c.received, dropped: rejectLines(r.spool), rejected: rejectLines(r.spool) }, 'kill -9 during the replay');
  });
}

/**
 * A connection that stops answering (the proxy stalls it: a half-open link)
 * is given up after the plugin's timeout, 1 s here, and the batch is written
 * on a new connection, once. `options` reaches the server through `port` of
 * 127.0.0.1 with that timeout.
 */
export async function stalledLink(
  s: FaultServer,
  output: PluginDefinition,
  options: (db: string, port: number, spool: string) => { [name: string]: OptionValue },
): Promise<void> {
  const dir = tempDir();
  const db = `specter_stall${process.pid}_${Date.now() % 100000}`;
  const proxy = new TcpProxy({ path: s.socket });
  s.create(db);
  try {
    const h = await outputHarness(output, options(db, await proxy.listen(), dir));
    const rows = () => s.count(db, 'SELECT count(*) FROM ulog');
    try {
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `a${i}` });
      await waitFor(() => rows() === 5, 5000, 'the first rows');
      proxy.stall();
      const stalledAt = Date.now();
      for (let i = 0; i < 5; i++) h.packet({ 'oob.prefix': `b${i}` });
      await waitFor(() => rows() === 10, 10000, 'the rows sent while the link stalled');
      assert.ok(Date.now() - stalledAt >= 900, 'waited for the timeout');
      assert.equal(s.count(db, 'SELECT count(DISTINCT oob_prefix) FROM ulog'), 10);
      assert.ok(h.counters.errors >= 1);
      // Other sessions see the rows as soon as the server commits; the output counts them when COMMIT's answer arrives.
      await waitFor(() => h.counters.sent >= 10, 5000, 'the commit to be counted');
      assert.equal(h.counters.sent, 10);
    } finally {
      await h.instance.close();
    }
  } finally {
    await proxy.close();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
