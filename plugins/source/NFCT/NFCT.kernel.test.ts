/**
 * source NFCT against the kernel: hundreds of NATed TCP, UDP and ICMP flows
 * over IPv4 and IPv6 through a router namespace, ended by timeout and by
 * `conntrack -D`, each logged exactly once with both tuples, the NAT, the
 * counters and the times right, into JSON and into ulogd2's own `ulog2_ct`
 * tables (loaded unchanged into PostgreSQL and MariaDB); and a burst of thousands of
 * flows ending at once with `ctreliable on`, none lost, also when the daemon is
 * told to stop right after it while it paces its reads (`ctreaddelay`).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import { ulogd2Schema } from '../../../test/ulogd2-schemas.js';
import { addressHex } from '../../shared/sql/column-cases.js';
import { NatLab, type CtEntry, type SentFlow } from './nat-lab.js';

type Rec = { [k: string]: unknown };

const SOCKET_DIR = '/var/run/postgresql';
const psql = (db: string, sql: string, file = false) =>
  execFileSync('psql', ['-h', SOCKET_DIR, '-U', 'postgres', '-d', db, '-qAtF', '\t', '-v', 'ON_ERROR_STOP=1', ...(file ? ['-f', '-'] : ['-c', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

const MYSQL_SOCKET = '/run/mysqld/mysqld.sock';
const mysql = (db: string, sql: string, file = false) =>
  execFileSync('mariadb', ['-uroot', `--socket=${MYSQL_SOCKET}`, '-N', '-B', db, ...(file ? [] : ['-e', sql])], {
    encoding: 'utf8',
    input: file ? sql : undefined,
    stdio: ['pipe', 'pipe', 'pipe'],
  });

const readJson = (file: string): Rec[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Rec)
    : [];

const KEYS = [
  'orig.ip.saddr.str',
  'orig.ip.daddr.str',
  'orig.ip.protocol',
  'orig.l4.sport',
  'orig.l4.dport',
  'orig.raw.pktlen',
  'orig.raw.pktcount',
  'reply.ip.saddr.str',
  'reply.ip.daddr.str',
  'reply.ip.protocol',
  'reply.l4.sport',
  'reply.l4.dport',
  'reply.raw.pktlen',
  'reply.raw.pktcount',
  'icmp.type',
  'icmp.code',
  'icmp.id',
  'ct.mark',
  'ct.id',
  'ct.event',
  'flow.start.sec',
  'flow.start.usec',
  'flow.end.sec',
  'flow.end.usec',
  'oob.family',
];

describe('source NFCT: NATed flows through a router', { timeout: 180_000 }, () => {
  let lab: NatLab;
  let dir: string;
  let daemon: Daemon | undefined;
  const db = `specter_ct${process.pid}_${Date.now() % 100000}`;
  let sent: SentFlow[] = [];
  let table: CtEntry[] = [];
  let records: Rec[] = [];
  let startedAt = 0;
  let endedAt = 0;

  before(async () => {
    dir = tempDir();
    lab = new NatLab();
    await lab.startServer();
    psql('postgres', `CREATE DATABASE ${db}`);
    psql(db, ulogd2Schema('pgsql-ulogd2-flat.sql'), true);
    mysql('', `CREATE DATABASE ${db}`);
    mysql(db, ulogd2Schema('mysql-ulogd2-flat.sql'), true);
    const json = path.join(dir, 'flows.json');
    daemon = new Daemon(
      lab.router,
      writeConfig(
        dir,
        `global {
 logfile stderr
 loglevel 3
}
10 {
 source NFCT
 ctevents destroy
 plugin JSON
 jsonfile ${json}
 jsonsync
 jsonfields ${KEYS.join(',')}
 plugin PGSQL
 pgsqlhost ${SOCKET_DIR}
 pgsqldb ${db}
 pgsqluser postgres
 pgsqltable ulog2_ct
 pgsqlspooldir ${dir}/spool
 plugin MYSQL
 mysqlsocket ${MYSQL_SOCKET}
 mysqldb ${db}
 mysqluser root
 mysqltable ulog2_ct
 mysqlspooldir ${dir}/mspool
}
`,
      ),
    );
    await daemon.started();
    startedAt = Date.now();
    sent = lab.traffic({ udp4: 150, tcp4: 80, icmp4: 60, udp6: 100, tcp6: 50, icmp6: 40 });
    // TCP connections wait in TIME_WAIT: read their counters, then end them; UDP and ICMP end by their 2 s timeout.
    table = lab.table();
    lab.router.exec('conntrack', ['-D', '-f', 'ipv4', '-p', 'tcp']);
    lab.router.exec('conntrack', ['-D', '-f', 'ipv6', '-p', 'tcp']);
    try {
      await waitFor(() => lab.allEnded() && readJson(json).length >= sent.length, 60_000, `${sent.length} flow records`);
    } catch (err) {
      daemon.signal('SIGUSR1');
      await new Promise((r) => setTimeout(r, 300));
      throw new Error(
        `${(err as Error).message} (have ${readJson(json).length}; conntrack -L: ${lab.router.exec('conntrack', ['-L']).split('\n').slice(0, 2).join(' | ')}; ` +
          `count ${lab.router.exec('conntrack', ['-C']).trim()}; daemon: ${daemon.stderr.slice(-1500)})`,
      );
    }
    // Anything more than one record per flow would come now.
    await new Promise((r) => setTimeout(r, 500));
    endedAt = Date.now();
    records = readJson(json);
  });

  after(async () => {
    if (daemon) await daemon.stop();
    lab?.close();
    try {
      psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    } catch {
      /* gone */
    }
    try {
      mysql('', `DROP DATABASE IF EXISTS ${db}`);
    } catch {
      /* gone */
    }
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const find = (f: SentFlow) =>
    records.filter(
      (r) =>
        r['oob.family'] === (f.family === 4 ? 2 : 10) &&
        r['orig.ip.protocol'] === (f.proto === 'udp' ? 17 : f.proto === 'tcp' ? 6 : f.family === 4 ? 1 : 58) &&
        (f.proto === 'icmp' ? r['icmp.id'] === f.port : r['orig.l4.sport'] === f.port),
    );

  it('logs every flow exactly once, and nothing else', () => {
    assert.equal(sent.length, 480);
    for (const f of sent) assert.equal(find(f).length, 1, `${f.proto}${f.family} ${f.port}: ${find(f).length} records`);
    assert.equal(records.length, sent.length);
    assert.ok(records.every((r) => r['ct.event'] === 4));
  });

  it('has both tuples with the DNAT and the SNAT in the reply direction', () => {
    for (const f of sent) {
      const r = find(f)[0];
      const [client, router, inside, server] =
        f.family === 4 ? ['10.10.0.2', '10.10.0.1', '10.20.0.1', '10.20.0.2'] : ['fd10::2', 'fd10::1', 'fd20::1', 'fd20::2'];
      const what = `${f.proto}${f.family} ${f.port}`;
      assert.equal(r['orig.ip.saddr.str'], client, what);
      assert.equal(r['orig.ip.daddr.str'], f.proto === 'icmp' ? server : router, what);
      assert.equal(r['reply.ip.saddr.str'], server, what);
      assert.equal(r['reply.ip.daddr.str'], inside, `${what}: masqueraded`);
      if (f.proto === 'icmp') {
        assert.deepEqual([r['orig.l4.sport'], r['icmp.type'], r['icmp.code']], [undefined, f.family === 4 ? 8 : 128, 0], what);
      } else {
        assert.deepEqual([r['orig.l4.dport'], r['reply.l4.sport'], typeof r['reply.l4.dport'], r['icmp.type']], [8000, 9000, 'number', undefined], what);
      }
    }
  });

  it('counts packets and bytes as sent (UDP, ICMP) and as the kernel table had them (TCP)', () => {
    for (const f of sent) {
      const r = find(f)[0];
      const what = `${f.proto}${f.family} ${f.port}`;
      if (f.proto === 'tcp') {
        const t = table.find((e) => e.id === r['ct.id']) ?? assert.fail(`${what}: ct.id ${r['ct.id']} not in conntrack -L`);
        assert.equal(Number(t.orig.sport), f.port, what);
        assert.deepEqual(
          [r['orig.raw.pktcount'], r['orig.raw.pktlen'], r['reply.raw.pktcount'], r['reply.raw.pktlen']],
          [t.orig.packets, t.orig.bytes, t.reply.packets, t.reply.bytes].map(Number),
          what,
        );
        assert.ok((r['orig.raw.pktcount'] as number) >= 5, `${what}: handshake, data, FIN`);
      } else {
        const bytes = (f.family === 4 ? 20 : 40) + 8 + f.payload;
        assert.deepEqual([r['orig.raw.pktcount'], r['orig.raw.pktlen'], r['reply.raw.pktcount'], r['reply.raw.pktlen']], [1, bytes, 1, bytes], what);
      }
    }
  });

  it("has the kernel's start and end times, start before end, within the test", () => {
    for (const r of records) {
      const start = (r['flow.start.sec'] as number) * 1e6 + (r['flow.start.usec'] as number);
      const end = (r['flow.end.sec'] as number) * 1e6 + (r['flow.end.usec'] as number);
      assert.ok(start <= end, `${r['ct.id']}: ${start} > ${end}`);
      assert.ok(start >= (startedAt - 1000) * 1000 && end <= endedAt * 1000, `${r['ct.id']}: ${start}..${end} outside the test`);
    }
    // UDP ended by its 2 s timeout: end - start is about 2 s (the kernel's garbage collector may come a little later).
    const udp = records.filter((r) => r['orig.ip.protocol'] === 17).map((r) => (r['flow.end.sec'] as number) - (r['flow.start.sec'] as number));
    assert.ok(
      udp.every((d) => d >= 1 && d <= 20),
      `UDP durations ${[...new Set(udp)].join(',')}`,
    );
  });

  it("fills ulogd2's ulog2_ct table (pgsql-ulogd2-flat.sql, loaded unchanged) through the PGSQL column mapping", async () => {
    await waitFor(() => Number(psql(db, 'SELECT count(*) FROM ulog2_ct').trim()) >= sent.length, 20_000, 'the rows');
    const rows = psql(db, 'SELECT row_to_json(u) FROM ulog2_ct u')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
    assert.equal(rows.length, sent.length);
    const columns = Object.keys(rows[0]).filter((c) => c !== '_ct_id');
    assert.ok(columns.includes('orig_ip_saddr_str') && columns.includes('flow_end_usec'), columns.join(','));
    // Every row is one record, column by column (the key a column holds is its name with dots).
    const text = (get: (c: string) => unknown) => columns.map((c) => `${c}=${JSON.stringify(get(c) ?? null)}`).join(' ');
    const fromRecords = records.map((r) => text((c) => r[c.replace(/_/g, '.')])).sort();
    const fromRows = rows.map((r) => text((c) => r[c])).sort();
    assert.deepEqual(fromRows, fromRecords);
  });

  it("fills ulogd2's MySQL ulog2_ct table (mysql-ulogd2-flat.sql, loaded unchanged): 16-byte addresses, counters under its column names", async () => {
    const count = () => Number(mysql(db, 'SELECT COUNT(*) FROM ulog2_ct').trim());
    await waitFor(() => count() >= sent.length, 20_000, 'the rows');
    const types = new Map(
      mysql(
        '',
        `SELECT COLUMN_NAME, COLUMN_TYPE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = '${db}' AND TABLE_NAME = 'ulog2_ct' ORDER BY ORDINAL_POSITION`,
      )
        .trim()
        .split('\n')
        .map((l) => l.split('\t') as [string, string]),
    );
    const columns = [...types.keys()].filter((c) => c !== '_ct_id' && c !== 'state');
    const fields = columns.map((c) => `'${c}', ${/binary/.test(types.get(c)!) ? `LOWER(HEX(\`${c}\`))` : `\`${c}\``}`);
    const rows = mysql(db, `SELECT JSON_OBJECT(${fields.join(', ')}) FROM ulog2_ct`)
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Rec);
    assert.equal(rows.length, sent.length);
    const alias: { [c: string]: string } = {
      orig_bytes: 'orig.raw.pktlen',
      orig_packets: 'orig.raw.pktcount',
      reply_bytes: 'reply.raw.pktlen',
      reply_packets: 'reply.raw.pktcount',
    };
    // What each record should leave in a column: addresses as 16 bytes, a value the signed tinyint cannot hold (ICMPv6 type 128) as NULL.
    const expected = (r: Rec, c: string): unknown => {
      if (/binary/.test(types.get(c)!)) return addressHex(r[`${c.replace(/_/g, '.')}.str`] as string);
      const v = r[alias[c] ?? c.replace(/_/g, '.')];
      if (typeof v === 'number' && /^tinyint\(3\)$/.test(types.get(c)!) && v > 127) return null;
      return v ?? null;
    };
    const text = (get: (c: string) => unknown) => columns.map((c) => `${c}=${JSON.stringify(get(c) ?? null)}`).join(' ');
    assert.deepEqual(rows.map((r) => text((c) => r[c])).sort(), records.map((r) => text((c) => expected(r, c))).sort());
    assert.ok(
      rows.every((r) => (r.orig_packets as number) >= 1),
      'the counters are filled, not left at their default',
    );
  });
});

describe('source NFCT: a burst of flows ending at once', { timeout: 180_000 }, () => {
  const FLOWS = 5000;

  /**
   * Opens FLOWS UDP flows in `ns` and ends them at once with conntrack -D; returns the records and the daemon's output.
   * `stopAtOnce`: SIGTERM as soon as conntrack -D returns (the events are all queued in the socket by then), with a
   * receive buffer large enough for the daemon to pace its reads.
   */
  async function burst(
    reliable: boolean,
    stopAtOnce = false,
    pacing: { rmem: string; delay: number; probeMs?: number } = stopAtOnce ? { rmem: '16M', delay: 50 } : { rmem: '64K', delay: 50 },
  ): Promise<{ records: Rec[]; stderr: string; counters: { [k: string]: number } | undefined; early: number }> {
    const ns = new NetNs('spt-nfct-b');
    const dir = tempDir();
    let daemon: Daemon | undefined;
    try {
      ns.nft('table inet t {\n chain out {\n  type filter hook output priority 0;\n  ct state new counter\n }\n}\n');
      ns.exec('sysctl', ['-qw', 'net.netfilter.nf_conntrack_timestamp=1']);
      const json = path.join(dir, 'flows.json');
      // A receive buffer far smaller than the burst (about 250 bytes an event).
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel ${pacing.rmem === '64K' ? 3 : 2}\n rmem ${pacing.rmem}\n}\n1 {\n source NFCT\n ctreliable ${reliable ? 'on' : 'off'}\n ctreaddelay ${pacing.delay}\n plugin JSON\n jsonfile ${json}\n jsonfields orig.l4.sport,ct.event\n}\n`,
        ),
      );
      await daemon.started();
      ns.exec('python3', [
        '-c',
        `import socket\nfor i in range(${FLOWS}):\n s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n s.bind(('127.0.0.1', 20000 + i))\n s.sendto(b'x', ('127.0.0.1', 9))\n s.close()\n`,
      ]);
      assert.equal(Number(ns.exec('conntrack', ['-C']).trim()), FLOWS, 'the flows are in the table');
      const deleting = Date.now();
      ns.exec('conntrack', ['-D', '-p', 'udp']);
      // Records written `probeMs` after the burst began.
      let early = 0;
      if (pacing.probeMs) {
        await new Promise((r) => setTimeout(r, Math.max(0, deleting + pacing.probeMs! - Date.now())));
        early = readJson(json).length;
      }
      if (!stopAtOnce) {
        await waitFor(
          () => readJson(json).length >= FLOWS || (!reliable && /resynchronised/.test(daemon!.stderr)),
          60_000,
          `the records (have ${readJson(json).length})`,
        );
        await new Promise((r) => setTimeout(r, reliable ? 1000 : 300));
      }
      await daemon.stop();
      return { records: readJson(json), stderr: daemon.stderr, counters: daemon.counters('NFCT'), early };
    } finally {
      if (daemon) await daemon.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  it(`with ctreliable on, loses none of ${FLOWS} destroy events a 64K buffer cannot hold at once`, async () => {
    const { records, counters } = await burst(true);
    assert.equal(new Set(records.map((r) => r['orig.l4.sport'])).size, FLOWS);
    assert.equal(records.length, FLOWS);
    assert.equal(counters?.enobufs, 0);
  });

  it(`stopped right after ${FLOWS} flows end, writes every one of them while it paces its reads`, async () => {
    const { records, stderr, counters } = await burst(true, true);
    assert.match(stderr, /"readDelay":50/, 'pacing was on');
    assert.equal(new Set(records.map((r) => r['orig.l4.sport'])).size, FLOWS);
    assert.equal(records.length, FLOWS);
    assert.equal(counters?.destroy, FLOWS);
  });

  it(`a long read delay ends once an eighth of the buffer is taken: ${FLOWS} events are read before it runs out`, async () => {
    // The burst takes more than an eighth of 16 MiB (about 1 KB an event): reading starts then, long before 1 s.
    const { records, stderr, early } = await burst(true, false, { rmem: '16M', delay: 1000, probeMs: 500 });
    assert.match(stderr, /"readDelay":1000/, 'pacing was on');
    assert.ok(early > 0, 'records written within 500 ms of the burst');
    assert.equal(new Set(records.map((r) => r['orig.l4.sport'])).size, FLOWS);
  });

  it('without it, counts the loss, says so once and resynchronises with a table dump', async () => {
    const { records, stderr, counters } = await burst(false);
    assert.ok(records.length < FLOWS, `the burst overflowed the buffer (${records.length} records)`);
    assert.ok((counters?.enobufs ?? 0) > 0, JSON.stringify(counters));
    assert.ok((counters?.resyncs ?? 0) >= 1, JSON.stringify(counters));
    // One warning per episode (each episode ends with a resync that lost nothing more), not one per ENOBUFS.
    const warnings = stderr.split('\n').filter((l) => l.includes('the kernel dropped conntrack events')).length;
    assert.ok(warnings >= 1 && warnings <= counters!.resyncs, `${warnings} warnings, ${counters!.resyncs} resyncs`);
    assert.match(stderr, /resynchronised with the conntrack table/);
  });

  it('with new events wanted, the resync after an overflow makes a record of each flow whose NEW event was lost, and only those', async () => {
    const ns = new NetNs('spt-nfct-n');
    const dir = tempDir();
    let daemon: Daemon | undefined;
    try {
      ns.nft('table inet t {\n chain out {\n  type filter hook output priority 0;\n  ct state new counter\n }\n}\n');
      const json = path.join(dir, 'flows.json');
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n rmem 16K\n}\n1 {\n source NFCT\n ctevents new\n plugin JSON\n jsonfile ${json}\n jsonfields orig.l4.sport,ct.event\n}\n`,
        ),
      );
      await daemon.started();
      ns.exec('python3', [
        '-c',
        `import socket\nfor i in range(${FLOWS}):\n s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n s.bind(('127.0.0.1', 20000 + i))\n s.sendto(b'x', ('127.0.0.1', 9))\n s.close()\n`,
      ]);
      await waitFor(
        () => new Set(readJson(json).map((r) => r['orig.l4.sport'])).size >= FLOWS,
        30_000,
        `a record of every flow (have ${readJson(json).length})`,
      );
      await new Promise((r) => setTimeout(r, 500));
      await daemon.stop();
      const records = readJson(json);
      const counters = daemon.counters('NFCT');
      assert.equal(records.length, FLOWS, 'one record per flow: a NEW event read late after its stand-in makes none');
      assert.ok((counters?.enobufs ?? 0) > 0 && (counters?.resyncs ?? 0) >= 1, JSON.stringify(counters));
      const fromDump = records.filter((r) => r['ct.event'] === 0).length;
      assert.ok(fromDump > 0 && fromDump < FLOWS, `${fromDump} flows from the resync, the others from NEW events`);
    } finally {
      if (daemon) await daemon.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('source NFCT: without kernel timestamps, and polling', { timeout: 60_000 }, () => {
  /** A namespace where conntrack runs (a rule uses it), and a daemon in it with `block` as its group's source lines. */
  async function setup(block: string, sysctls: string[] = []) {
    const ns = new NetNs('spt-nfct-t');
    const dir = tempDir();
    ns.nft('table inet t {\n chain out {\n  type filter hook output priority 0;\n  ct state new counter\n }\n}\n');
    for (const s of sysctls) ns.exec('sysctl', ['-qw', s]);
    const json = path.join(dir, 'flows.json');
    const daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n1 {\n source NFCT\n${block}\n plugin JSON\n jsonfile ${json}\n jsonsync\n jsonfields ${KEYS.join(',')}\n}\n`,
      ),
    );
    await daemon.started();
    const send = (port: number, times = 1) =>
      ns.exec('python3', [
        '-c',
        `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', ${port}))\nfor i in range(${times}): s.sendto(b'hello', ('127.0.0.1', 9))\n`,
      ]);
    const done = async () => {
      await daemon.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    };
    return { ns, daemon, json, send, done };
  }

  it("says once that timestamps and counters are off, and takes a destroy record's start from the NEW event", async () => {
    const t = await setup(' ctevents destroy', ['net.netfilter.nf_conntrack_timestamp=0', 'net.netfilter.nf_conntrack_acct=0']);
    try {
      const before = Date.now();
      t.send(30001);
      const after = Date.now();
      await new Promise((r) => setTimeout(r, 1200));
      const deleted = Date.now();
      t.ns.exec('conntrack', ['-D', '-p', 'udp', '--orig-port-src', '30001']);
      await waitFor(() => readJson(t.json).length >= 1, 5000, 'the record');
      const [r] = readJson(t.json);
      const start = (r['flow.start.sec'] as number) * 1000 + (r['flow.start.usec'] as number) / 1000;
      const end = (r['flow.end.sec'] as number) * 1000 + (r['flow.end.usec'] as number) / 1000;
      assert.equal(r['orig.l4.sport'], 30001);
      assert.ok(start >= before - 1 && start <= after + 200, `start ${start} is the NEW event's arrival (${before}..${after})`);
      assert.ok(end >= deleted - 1 && end <= Date.now(), `end ${end} is the destroy event's arrival`);
      assert.equal(r['orig.raw.pktcount'], undefined, 'no counters without nf_conntrack_acct');
      assert.equal(t.daemon.stderr.split('\n').filter((l) => l.includes('nf_conntrack_timestamp is off')).length, 1);
      assert.equal(t.daemon.stderr.split('\n').filter((l) => l.includes('nf_conntrack_acct is off')).length, 1);
      assert.equal(readJson(t.json).length, 1, 'the NEW event it listened to made no record');
    } finally {
      await t.done();
    }
  });

  it('with ctpollinterval, dumps the table and makes a record of every open flow with its counters so far', async () => {
    const t = await setup(' ctpollinterval 1\n ctprotofilter udp', ['net.netfilter.nf_conntrack_acct=1']);
    try {
      t.send(30002, 2);
      t.ns.exec('ping', ['-c', '1', '127.0.0.1']);
      const first = await waitFor(() => readJson(t.json).find((r) => r['orig.l4.sport'] === 30002), 5000, 'a dump record');
      assert.deepEqual([first['ct.event'], first['orig.raw.pktcount'], first['orig.raw.pktlen'], first['flow.end.sec']], [0, 2, 66, undefined]);
      t.send(30002);
      const later = await waitFor(
        () => readJson(t.json).find((r) => r['orig.l4.sport'] === 30002 && r['orig.raw.pktcount'] === 3),
        5000,
        'a later dump with the new count',
      );
      assert.equal(later['ct.id'], first['ct.id']);
      assert.equal(Number(t.ns.exec('conntrack', ['-C']).trim()), 2, 'the ping is in the table too');
      assert.ok(
        readJson(t.json).every((r) => r['orig.ip.protocol'] === 17),
        'ctprotofilter keeps the ping out',
      );
    } finally {
      await t.done();
    }
  });
});
