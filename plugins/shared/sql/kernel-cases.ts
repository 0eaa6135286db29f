/**
 * End-to-end cases every server SQL output runs through the kernel path:
 * real traffic fills a table checked column by column, and a restart of the
 * database server in the middle of a stream loses and duplicates nothing.
 * (Test code shared by the PGSQL and MYSQL tests.)
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, ROOT, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

export interface Server {
  plugin: string;
  /** Creates a fresh database with the table; returns config lines for the plugin. */
  setup(db: string, createTable: string): string;
  query(db: string, sql: string): string[][];
  restart(): void;
  drop(db: string): void;
  tableSql: string;
}

export async function fillsTable(s: Server): Promise<void> {
  const dir = tempDir();
  const db = `specter_t${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sql');
  let daemon: Daemon | undefined;
  try {
    const lines = s.setup(db, s.tableSql);
    ns.nft(`table inet t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 7300 log group 1 prefix "sql-tcp: "\n  udp dport 7301 log group 1 prefix "sql-udp: "\n }\n}\n`);
    daemon = new Daemon(ns, writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n}\n`));
    await daemon.started();
    try { ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7300']); } catch { /* refused */ }
    try { ns.exec('ncat', ['-u', '-w', '1', '::1', '7301'], 'hello'); } catch { /* refused */ }
    await waitFor(() => s.query(db, 'SELECT count(*) FROM ulog')[0][0] === '2', 10000, 'two rows');
    const tcp = s.query(db, "SELECT oob_prefix, ip_saddr, ip_daddr, ip_saddr_bin_hex, ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog_view WHERE oob_prefix = 'sql-tcp: '")[0];
    assert.deepEqual(tcp, ['sql-tcp: ', '127.0.0.1', '2130706433', '00000000000000000000ffff7f000001', '6', '7300', '', 'lo']);
    const udp = s.query(db, "SELECT oob_prefix, ip_saddr, ip_daddr, ip_saddr_bin_hex, ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog_view WHERE oob_prefix = 'sql-udp: '")[0];
    assert.deepEqual(udp, ['sql-udp: ', '::1', '', '00000000000000000000000000000001', '17', '', '7301', 'lo']);
  } finally {
    await daemon?.stop();
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function survivesRestart(s: Server): Promise<void> {
  const dir = tempDir();
  const db = `specter_r${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sqlr');
  let daemon: Daemon | undefined;
  const gen = path.join(dir, 'udpflood');
  execFileSync('cc', ['-O2', '-o', gen, path.join(ROOT, 'bench', 'udpflood.c')]);
  try {
    const lines = s.setup(db, s.tableSql);
    ns.nft(`table ip t {\n counter logged { }\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9100 counter name logged log group 2 drop\n }\n}\n`);
    daemon = new Daemon(ns, writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n2 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n}\n`));
    await daemon.started();
    // 6000 packets over 3 s; the server restarts in the middle.
    const flood = ns.spawn(gen, ['127.0.0.1', '9100', '6000', '2000', '32']);
    await new Promise((r) => setTimeout(r, 1000));
    s.restart();
    await new Promise((r) => flood.on('exit', r));
    const logged = Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 't', 'logged']))![1]);
    assert.equal(logged, 6000);
    const count = () => { try { return Number(s.query(db, 'SELECT count(*) FROM ulog')[0][0]); } catch { return -1; } };
    await waitFor(() => count() === logged, 30000, `all ${logged} rows (have ${count()})`);
    assert.equal(count(), logged, 'no loss');
    const distinct = Number(s.query(db, 'SELECT count(DISTINCT oob_seq_local) FROM ulog')[0][0]);
    assert.equal(distinct, logged, 'no duplicates');
    assert.match(daemon.stderr, /rows wait, retrying/);
  } finally {
    await daemon?.stop();
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
