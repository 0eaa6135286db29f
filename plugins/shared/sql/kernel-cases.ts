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
  /** Config lines that point at a server that is not there. */
  unreachable(db: string): string;
  drop(db: string): void;
  tableSql: string;
  /** The shipped table (doc/*.table) and how the server prints true. */
  shipped: string;
  trueText: string;
}

/** The shipped table, with a column for every BASE key, fills from real traffic. */
export async function fillsShippedTable(s: Server): Promise<void> {
  const dir = tempDir();
  const db = `specter_f${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sqlf');
  let daemon: Daemon | undefined;
  try {
    const lines = s.setup(db, fs.readFileSync(path.join(ROOT, 'doc', s.shipped), 'utf8'));
    ns.nft(
      'table inet t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 7400 log group 5 prefix "shipped: "\n  icmpv6 type echo-request log group 5 prefix "shipped6: "\n }\n}\n',
    );
    daemon = new Daemon(ns, writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n5 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n}\n`));
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7400']);
    } catch {
      /* refused */
    }
    ns.exec('ping', ['-6', '-c', '1', '::1']);
    await waitFor(() => s.query(db, 'SELECT count(*) FROM ulog')[0][0] === '2', 10000, 'two rows');
    const tcp = s.query(
      db,
      "SELECT ip_saddr, ip_daddr_str, ip_protocol, tcp_dport, tcp_syn, tcp_ack, oob_in, oob_family, ip_ttl, raw_pktlen, mac_str FROM ulog WHERE oob_prefix = 'shipped: '",
    )[0];
    assert.deepEqual(tcp, [
      '127.0.0.1',
      '127.0.0.1',
      '6',
      '7400',
      s.trueText,
      s.trueText === 't' ? 'f' : '0',
      'lo',
      '2',
      '64',
      '60',
      '00:00:00:00:00:00:00:00:00:00:00:00:08:00',
    ]);
    const icmp6 = s.query(
      db,
      "SELECT ip_saddr, ip_protocol, icmpv6_type, icmpv6_echoseq, ip6_hoplimit, oob_family, tcp_dport FROM ulog WHERE oob_prefix = 'shipped6: '",
    )[0];
    assert.deepEqual(icmp6, ['::1', '58', '128', '1', '64', '10', '']);
  } finally {
    await daemon?.stop();
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function fillsTable(s: Server): Promise<void> {
  const dir = tempDir();
  const db = `specter_t${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sql');
  let daemon: Daemon | undefined;
  try {
    const lines = s.setup(db, s.tableSql);
    ns.nft(
      `table inet t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 7300 log group 1 prefix "sql-tcp: "\n  udp dport 7301 log group 1 prefix "sql-udp: "\n }\n}\n`,
    );
    daemon = new Daemon(ns, writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n}\n`));
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7300']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7301'], 'hello');
    } catch {
      /* refused */
    }
    await waitFor(() => s.query(db, 'SELECT count(*) FROM ulog')[0][0] === '2', 10000, 'two rows');
    const tcp = s.query(
      db,
      "SELECT oob_prefix, ip_saddr, ip_daddr, ip_saddr_bin_hex, ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog_view WHERE oob_prefix = 'sql-tcp: '",
    )[0];
    assert.deepEqual(tcp, ['sql-tcp: ', '127.0.0.1', '2130706433', '00000000000000000000ffff7f000001', '6', '7300', '', 'lo']);
    const udp = s.query(
      db,
      "SELECT oob_prefix, ip_saddr, ip_daddr, ip_saddr_bin_hex, ip_protocol, tcp_dport, udp_dport, oob_in FROM ulog_view WHERE oob_prefix = 'sql-udp: '",
    )[0];
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
    ns.nft(
      `table ip t {\n counter logged { }\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9100 counter name logged log group 2 drop\n }\n}\n`,
    );
    daemon = new Daemon(ns, writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n2 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n}\n`));
    await daemon.started();
    // 6000 packets over 3 s; the server restarts in the middle.
    const flood = ns.spawn(gen, ['127.0.0.1', '9100', '6000', '2000', '32']);
    // Listen for the end at once: a slow restart may outlast the flood.
    const flooded = new Promise((r) => flood.on('exit', r));
    await new Promise((r) => setTimeout(r, 1000));
    s.restart();
    await flooded;
    const logged = Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 't', 'logged']))![1]);
    assert.equal(logged, 6000);
    const count = () => {
      try {
        return Number(s.query(db, 'SELECT count(*) FROM ulog')[0][0]);
      } catch {
        return -1;
      }
    };
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

export async function keepsRowsWhileDown(s: Server): Promise<void> {
  const dir = tempDir();
  const db = `specter_s${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sqls');
  const spooldir = path.join(dir, 'spool');
  try {
    const lines = s.setup(db, s.tableSql);
    ns.nft(
      'table ip t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  icmp type echo-request log group 4 prefix "spooled: "\n }\n}\n',
    );
    const conf = (body: string, name: string) =>
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n4 {\n plugin BASE\n plugin ${s.plugin}\n${body}\n ${s.plugin.toLowerCase()}spooldir ${spooldir}\n}\n`,
        name,
      );
    // The server is away for the whole first run: SIGTERM keeps the rows in the spool file.
    const first = new Daemon(ns, conf(s.unreachable(db), 'down.conf'));
    await first.started();
    ns.exec('ping', ['-c', '5', '-i', '0.2', '127.0.0.1']);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await first.stop(), 0);
    assert.match(first.stderr, /5 rows not yet written are kept in/);
    const files = fs.readdirSync(spooldir);
    assert.equal(files.length, 1);
    // The next start writes them first, then removes the file.
    const second = new Daemon(ns, conf(lines, 'up.conf'));
    await second.started();
    await waitFor(
      () => s.query(db, "SELECT count(*) FROM ulog WHERE oob_prefix = 'spooled: '")[0][0] === '5',
      10000,
      `the spooled rows: ${second.stderr
        .split('\n')
        .filter((l) => !l.includes('"level":30'))
        .join(' ')
        .slice(0, 600)}`,
    );
    await waitFor(() => fs.readdirSync(spooldir).length === 0, 5000, 'the spool file to go');
    assert.equal(await second.stop(), 0);
  } finally {
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
