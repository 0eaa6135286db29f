/** SQLITE3 through the kernel: the shipped table and a classic trimmed one, values checked column by column. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, Daemon, NODE_ARGS, ROOT, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

describe('SQLITE3 output', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-sqlite');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7200 log group 1 prefix "db-tcp: "
    udp dport 7201 log group 1 prefix "db-udp: "
    icmp type echo-request meta mark set 5 log group 1 prefix "db-icmp: "
  }
}`);
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('fills the shipped table from real traffic and a classic integer-address table beside it', async () => {
    const full = path.join(dir, 'full.db');
    const classic = path.join(dir, 'classic.db');
    new Database(full).exec(fs.readFileSync(path.join(ROOT, 'doc', 'sqlite3.table'), 'utf8')).close();
    new Database(classic)
      .exec(
        'CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_prefix TEXT, ip_saddr INTEGER, ip_daddr_bin BLOB, tcp_dport INTEGER, raw_label INTEGER, oob_time_sec TIMESTAMP)',
      )
      .close();

    const yaml = writeConfig(
      dir,
      `global:\n  logfile: stderr\n  loglevel: 3\ngroups:\n  1:\n    plugins:\n      - BASE\n      - LOCAL\n      - SQLITE3: { sqlite3db: ${full} }\n      - plugin: SQLITE3\n        sqlite3db: ${classic}\n        sqlite3label: 7\n`,
      'two.yaml',
    );

    const daemon = new Daemon(ns, yaml);
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7200']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7201'], 'hello');
    } catch {
      /* refused */
    }
    ns.exec('ping', ['-c', '1', '127.0.0.1']);
    const count = () => (new Database(full, { readonly: true }).prepare('SELECT count(*) n FROM ulog').get() as { n: number }).n;
    await waitFor(() => count() === 3, 5000, 'three rows');
    assert.equal(await daemon.stop(), 0);

    const db = new Database(full, { readonly: true });
    const tcp = db.prepare("SELECT * FROM ulog WHERE oob_prefix = 'db-tcp: '").get() as Record<string, unknown>;
    assert.equal(tcp.ip_saddr, '127.0.0.1');
    assert.equal(tcp.ip_daddr_str, '127.0.0.1');
    assert.equal(tcp.ip_protocol, 6);
    assert.equal(tcp.tcp_dport, 7200);
    assert.equal(tcp.tcp_syn, 1);
    assert.equal(tcp.tcp_ack, 0);
    assert.equal(tcp.oob_in, 'lo');
    assert.equal(tcp.oob_family, 2);
    assert.equal(tcp.ip_ttl, 64);
    assert.equal(tcp.udp_dport, null);
    assert.equal(tcp.mac_str, '00:00:00:00:00:00:00:00:00:00:00:00:08:00');
    assert.ok(Buffer.isBuffer(tcp.raw_pkt) && (tcp.raw_pkt as Buffer)[0] === 0x45);
    assert.equal(tcp.raw_pktlen, (tcp.raw_pkt as Buffer).length);
    assert.ok(Math.abs((tcp.oob_time_sec as number) - Date.now() / 1000) < 60);
    assert.equal(typeof tcp.local_hostname, 'string');
    const udp = db.prepare("SELECT * FROM ulog WHERE oob_prefix = 'db-udp: '").get() as Record<string, unknown>;
    assert.equal(udp.ip_saddr, '::1');
    assert.equal(udp.udp_dport, 7201);
    assert.equal(udp.udp_len, 13);
    assert.equal(udp.ip6_hoplimit, 64);
    assert.equal(udp.oob_family, 10);
    const icmp = db.prepare("SELECT * FROM ulog WHERE oob_prefix = 'db-icmp: '").get() as Record<string, unknown>;
    assert.equal(icmp.icmp_type, 8);
    assert.equal(icmp.oob_mark, 5);
    db.close();

    const c = new Database(classic, { readonly: true });
    const rows = c.prepare('SELECT * FROM ulog ORDER BY id').all() as Array<Record<string, unknown>>;
    assert.equal(rows.length, 3);
    const r4 = rows.find((r) => r.oob_prefix === 'db-tcp: ')!;
    assert.equal(r4.ip_saddr, 2130706433, '127.0.0.1 as its 32-bit number');
    assert.equal((r4.ip_daddr_bin as Buffer).toString('hex'), '00000000000000000000ffff7f000001');
    assert.equal(r4.raw_label, 7);
    assert.match(String(r4.oob_time_sec), /^\d{4}-\d\d-\d\dT/);
    const r6 = rows.find((r) => r.oob_prefix === 'db-udp: ')!;
    assert.equal(r6.ip_saddr, null, 'an IPv6 address does not fit an integer column');
    assert.equal((r6.ip_daddr_bin as Buffer).toString('hex'), '00000000000000000000000000000001');
    c.close();
  });

  it('names an unknown column and the closest keys, unless told to ignore it', () => {
    const file = path.join(dir, 'odd.db');
    new Database(file).exec('CREATE TABLE ulog (id INTEGER PRIMARY KEY, ip_sadr TEXT, tcp_dport INTEGER)').close();
    const conf = writeConfig(dir, `1 {\n plugin BASE\n plugin SQLITE3\n sqlite3db ${file}\n}\n`, 'odd.conf');
    const r = spawnSync(process.execPath, [...NODE_ARGS, CLI, '-c', conf, '--check'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^.*odd\.conf:3:9: SQLITE3 option "sqlite3table": table ulog: column "ip_sadr" maps to no key \(closest: ip\.saddr/);
    const ok = writeConfig(dir, `1 {\n plugin BASE\n plugin SQLITE3\n sqlite3db ${file}\n sqlite3ignore\n}\n`, 'ignore.conf');
    const r2 = spawnSync(process.execPath, [...NODE_ARGS, CLI, '-c', ok, '--check'], { encoding: 'utf8' });
    assert.equal(r2.status, 0, r2.stderr);
    assert.match(r2.stdout, /output SQLITE3 +reads tcp\.dport\n/);
  });
});
