/**
 * SQLITE3's columns through the kernel: DEFAULT columns a key maps to are
 * written, and a missing database and table are created at start (never
 * under --check) with a column for every key the group produces.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, Daemon, NODE_ARGS, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

const check = (conf: string) => spawnSync(process.execPath, [...NODE_ARGS, CLI, '-c', conf, '--check'], { encoding: 'utf8' });
const rows = (file: string, sql: string) => {
  const db = new Database(file, { readonly: true });
  try {
    return db.prepare(sql).all() as Array<Record<string, unknown>>;
  } finally {
    db.close();
  }
};

describe('SQLITE3 columns', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-sqlcol');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7600 log group 3 prefix "col-tcp: "
    udp dport 7601 log group 3 prefix "col-udp: "
  }
}`);
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const traffic = () => {
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7600']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7601'], 'hello');
    } catch {
      /* refused */
    }
  };
  const conf = (body: string, name: string) =>
    writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n3 {\n plugin BASE\n plugin LOCAL\n plugin SQLITE3\n${body}}\n`, name);

  it("writes the columns a key maps to whatever their DEFAULT; the rowid, generated and unmapped defaulted columns are SQLite's", async () => {
    const file = path.join(dir, 'defaults.db');
    new Database(file)
      .exec(`CREATE TABLE ulog (id INTEGER PRIMARY KEY AUTOINCREMENT, oob_prefix TEXT DEFAULT 'none', oob_in TEXT DEFAULT NULL,
      tcp_dport INTEGER DEFAULT 0, ip_saddr TEXT DEFAULT '0.0.0.0', tcp_syn INTEGER DEFAULT 0, oob_time_sec TIMESTAMP DEFAULT '2000-01-01T00:00:00.000Z',
      seen TEXT DEFAULT CURRENT_TIMESTAMP, note TEXT DEFAULT 'kept', dport2 INTEGER GENERATED ALWAYS AS (tcp_dport * 2))`)
      .close();
    const daemon = new Daemon(ns, conf(` sqlite3db ${file}\n`, 'defaults.conf'));
    await daemon.started();
    traffic();
    await waitFor(() => rows(file, 'SELECT count(*) n FROM ulog')[0].n === 2, 5000, 'two rows');
    assert.equal(await daemon.stop(), 0);
    assert.doesNotMatch(daemon.stderr, /map to no key/);
    const tcp = rows(file, "SELECT * FROM ulog WHERE oob_prefix = 'col-tcp: '")[0];
    assert.equal(tcp.oob_in, 'lo');
    assert.equal(tcp.tcp_dport, 7600);
    assert.equal(tcp.ip_saddr, '127.0.0.1');
    assert.equal(tcp.tcp_syn, 1);
    assert.equal(tcp.dport2, 15200);
    assert.equal(tcp.note, 'kept');
    assert.match(String(tcp.seen), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    assert.ok(Math.abs(Date.parse(String(tcp.oob_time_sec)) - Date.now()) < 120000, `oob_time_sec ${tcp.oob_time_sec}`);
    const udp = rows(file, "SELECT * FROM ulog WHERE oob_prefix = 'col-udp: '")[0];
    assert.deepEqual([udp.ip_saddr, udp.tcp_dport, udp.tcp_syn, udp.dport2], ['::1', null, null, null], 'a key the packet has not is NULL, not the default');
  });

  it('creates a missing database and table with a column per key at start, once; --check creates nothing', async () => {
    const file = path.join(dir, 'made', 'here', 'specter.db');
    const c = conf(` sqlite3db ${file}\n`, 'create.conf');
    const r = check(c);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(!fs.existsSync(path.join(dir, 'made')), '--check created nothing');
    // The keys the group's inputs produce, as --check lists them.
    const produced = [...r.stdout.matchAll(/^ {2}input +\S+ +writes (.*)$/gm)].flatMap((m) => m[1].split(' '));
    assert.ok(produced.includes('ip.saddr.str') && produced.includes('local.hostname'), r.stdout);
    assert.match(r.stdout, new RegExp(`output SQLITE3 +reads ${produced.join(' ').replace(/\./g, '\\.')}\n`));

    const first = new Daemon(ns, c);
    await first.started();
    traffic();
    await waitFor(() => fs.existsSync(file) && rows(file, 'SELECT count(*) n FROM ulog')[0].n === 2, 5000, 'two rows');
    assert.equal(await first.stop(), 0);
    assert.equal(first.stderr.match(/created .*specter\.db with table ulog: \d+ columns/g)?.length, 1, first.stderr);

    const cols = rows(file, 'PRAGMA table_info(ulog)');
    assert.deepEqual(
      cols.map((x) => x.name),
      ['id', ...produced.map((k) => k.replace(/\./g, '_'))],
    );
    const type = (n: string) => cols.find((x) => x.name === n)?.type;
    assert.deepEqual(['id', 'raw_pkt', 'ip_saddr', 'ip_saddr_str', 'mac_saddr', 'tcp_dport', 'tcp_syn', 'local_time'].map(type), [
      'INTEGER',
      'BLOB',
      'TEXT',
      'TEXT',
      'TEXT',
      'INTEGER',
      'INTEGER',
      'TEXT',
    ]);
    const tcp = rows(file, "SELECT * FROM ulog WHERE oob_prefix = 'col-tcp: '")[0];
    assert.deepEqual(
      [tcp.id, tcp.ip_saddr, tcp.ip_saddr_str, tcp.tcp_dport, tcp.tcp_syn, tcp.oob_in, tcp.oob_family, tcp.mac_saddr],
      [1, '127.0.0.1', '127.0.0.1', 7600, 1, 'lo', 2, '00:00:00:00:00:00'],
    );
    assert.equal((tcp.raw_pkt as Buffer)[0], 0x45);
    assert.equal(tcp.raw_pktlen, (tcp.raw_pkt as Buffer).length);
    assert.equal(typeof tcp.local_hostname, 'string');
    const udp = rows(file, "SELECT * FROM ulog WHERE oob_prefix = 'col-udp: '")[0];
    assert.deepEqual([udp.ip_saddr, udp.udp_dport, udp.udp_len, udp.oob_family, udp.tcp_dport], ['::1', 7601, 13, 10, null]);

    // The next start finds the table: nothing is created or logged again.
    const second = new Daemon(ns, c);
    await second.started();
    traffic();
    await waitFor(() => rows(file, 'SELECT count(*) n FROM ulog')[0].n === 4, 5000, 'four rows');
    assert.equal(await second.stop(), 0);
    assert.doesNotMatch(second.stderr, /created/);
  });

  it('creates a missing table in an existing database', async () => {
    const file = path.join(dir, 'other.db');
    new Database(file).exec('CREATE TABLE other (x TEXT)').close();
    const daemon = new Daemon(ns, conf(` sqlite3db ${file}\n sqlite3table packets\n`, 'table.conf'));
    await daemon.started();
    traffic();
    await waitFor(() => rows(file, 'SELECT count(*) n FROM packets')[0].n === 2, 5000, 'two rows');
    assert.equal(await daemon.stop(), 0);
    assert.match(daemon.stderr, /created table packets in .*other\.db: \d+ columns/);
    assert.deepEqual(rows(file, 'SELECT tcp_dport FROM packets WHERE tcp_dport IS NOT NULL'), [{ tcp_dport: 7600 }]);
  });

  it('with sqlite3create off, a missing database or table stops start-up as before', () => {
    const missing = path.join(dir, 'absent.db');
    const r = check(conf(` sqlite3db ${missing}\n sqlite3create off\n`, 'off.conf'));
    assert.equal(r.status, 1);
    assert.match(r.stderr, /off\.conf:\d+:\d+: SQLITE3 option "sqlite3db": database .*absent\.db does not exist and sqlite3create is off/);
    const empty = path.join(dir, 'empty.db');
    new Database(empty).exec('CREATE TABLE other (x TEXT)').close();
    const r2 = check(conf(` sqlite3db ${empty}\n sqlite3create no\n`, 'off2.conf'));
    assert.equal(r2.status, 1);
    assert.match(r2.stderr, /SQLITE3 option "sqlite3table": database .*empty\.db has no table "ulog" and sqlite3create is off/);
    assert.ok(!fs.existsSync(missing));
  });
});
