/**
 * nat-lookup's arguments (addresses, times, windows) and its query on real
 * SQLite flow tables: text addresses as SQLITE3 writes them, IPv4 integers as
 * ulogd2's SQLite table has them, and 16-byte addresses as MYSQL's flat table.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { parseDuration, parseEndpoint, parseLookupArgs, parseTime, type LookupArgs } from './nat-lookup-args.js';
import { formatCandidates } from './nat-lookup-format.js';
import { natLookup, type Candidate } from './nat-lookup.js';
import { sqliteFlowTable } from './nat-lookup-tables.js';

// Local time here is 5:30 ahead of UTC, so that a time without a zone is seen read as local.
process.env.TZ = 'Asia/Kolkata';

describe('nat-lookup arguments', () => {
  it('reads epoch seconds, ISO 8601 with and without a zone, and YYYY-MM-DD HH:MM:SS as local time', () => {
    assert.equal(parseTime('1700000000'), 1700000000);
    assert.equal(parseTime('1700000000.25'), 1700000000.25);
    assert.equal(parseTime('2023-11-14T22:13:20Z'), 1700000000);
    assert.equal(parseTime('2023-11-14T22:13:20.5Z'), 1700000000.5);
    assert.equal(parseTime('2023-11-15T00:13:20+02:00'), 1700000000);
    assert.equal(parseTime('2023-11-14T20:13:20-0200'), 1700000000);
    assert.equal(parseTime('2023-11-15T01:13:20+03'), 1700000000);
    const local = 1700000000 - 5.5 * 3600;
    assert.equal(parseTime('2023-11-14T22:13:20'), local);
    assert.equal(parseTime('2023-11-14 22:13:20'), local);
    for (const bad of ['yesterday', '2023-13-01 10:00:00', '2023-02-30T10:00:00Z', '2023-11-14', '14:32:15']) {
      assert.equal(typeof parseTime(bad), 'string', bad);
    }
  });

  it('reads IPv4 and IPv6 addresses with and without a port, IPv6 ports in brackets', () => {
    assert.deepEqual(parseEndpoint('203.0.113.50:32768'), { addr: 0xcb007132, addrText: '203.0.113.50', port: 32768 });
    assert.deepEqual(parseEndpoint('203.0.113.50'), { addr: 0xcb007132, addrText: '203.0.113.50', port: undefined });
    const v6 = parseEndpoint('[2001:DB8:0:0::1]:443') as { addr: Uint8Array; addrText: string; port: number };
    assert.deepEqual([v6.addrText, v6.port, v6.addr.length, v6.addr[1], v6.addr[15]], ['2001:db8::1', 443, 16, 0x01, 1]);
    assert.equal((parseEndpoint('2001:db8::1') as { addrText: string }).addrText, '2001:db8::1');
    assert.equal((parseEndpoint('::ffff:10.0.0.1') as { addrText: string }).addrText, '::ffff:10.0.0.1');
    for (const bad of ['203.0.113.50:65536', '203.0.113.50:x', '[10.0.0.1]:5', 'host:80', '[2001:db8::1]:']) {
      assert.equal(typeof parseEndpoint(bad), 'string', bad);
    }
  });

  it('reads windows and formats, and says what is wrong in one line', () => {
    assert.deepEqual([parseDuration('90'), parseDuration('90s'), parseDuration('5m'), parseDuration('1h')], [90, 90, 300, 3600]);
    const usage = (m: string): never => {
      throw new Error(m);
    };
    assert.deepEqual(parseLookupArgs(['10.0.0.1:5', '--at', '1700000000', '--window', '2m', '--format', 'csv'], usage), {
      addr: 0x0a000001,
      addrText: '10.0.0.1',
      port: 5,
      at: 1700000000,
      window: 120,
      format: 'csv',
    });
    assert.throws(() => parseLookupArgs(['10.0.0.1:5'], usage), /--at TIME is missing/);
    assert.throws(() => parseLookupArgs(['--at', '1'], usage), /the address is missing/);
    assert.throws(() => parseLookupArgs(['10.0.0.1', '--at', '1', '--format', 'xml'], usage), /expected table, csv or json/);
    assert.throws(() => parseLookupArgs(['10.0.0.1', '--at', '1', '--window', 'long'], usage), /--window/);
    assert.throws(() => parseLookupArgs(['10.0.0.1', '--at', '1', '--bogus'], usage), /bogus/);
  });
});

/** A flow as the columns hold it: [orig src, orig dst, reply src, reply dst] as ip:port, protocol, start, end, orig packets. */
interface Flow {
  o: [string, string];
  r: [string, string];
  proto: number;
  start: number;
  end: number;
  pk?: number;
}

const T0 = 1700000000;
const FLOWS: Flow[] = [
  // SNAT: two inside hosts through 203.0.113.50, one after the other on the same public port, and one on another port.
  { o: ['10.0.15.42:51000', '198.51.100.7:443'], r: ['198.51.100.7:443', '203.0.113.50:32768'], proto: 6, start: T0, end: T0 + 30, pk: 12 },
  { o: ['10.0.15.43:51001', '198.51.100.7:443'], r: ['198.51.100.7:443', '203.0.113.50:32768'], proto: 6, start: T0 + 100, end: T0 + 130, pk: 7 },
  { o: ['10.0.15.44:40000', '198.51.100.9:53'], r: ['198.51.100.9:53', '203.0.113.50:40001'], proto: 17, start: T0 + 5, end: T0 + 7, pk: 1 },
  // DNAT: the outside asks 203.0.113.50:8080, the inside server 10.0.20.2:80 answers.
  { o: ['192.0.2.9:33333', '203.0.113.50:8080'], r: ['10.0.20.2:80', '192.0.2.9:33333'], proto: 6, start: T0 + 10, end: T0 + 20, pk: 5 },
  // The router's own connection from the public address: not translated, not an answer.
  { o: ['203.0.113.50:32768', '198.51.100.8:22'], r: ['198.51.100.8:22', '203.0.113.50:32768'], proto: 6, start: T0 + 10, end: T0 + 11, pk: 3 },
];

const split = (e: string) => {
  const i = e.lastIndexOf(':');
  return [e.slice(0, i), Number(e.slice(i + 1))] as const;
};
const v4int = (a: string) => a.split('.').reduce((x, y) => x * 256 + Number(y), 0);
const v4mapped = (a: string) => Buffer.from([...new Array<number>(10).fill(0), 255, 255, ...a.split('.').map(Number)]);

/** A database with FLOWS in a table whose address columns have `type`, written as `encode` makes them. */
function makeDb(file: string, type: string, encode: (a: string) => unknown, addrColumn: (dir: string) => string, counters = 'raw_pktcount'): void {
  const db = new Database(file);
  const addrs = ['orig_ip_saddr', 'orig_ip_daddr', 'reply_ip_saddr', 'reply_ip_daddr'].map(addrColumn);
  db.exec(`CREATE TABLE ulog2_ct (_ct_id INTEGER PRIMARY KEY, ${addrs.map((a) => `${a} ${type}`).join(', ')},
    orig_ip_protocol INTEGER, orig_l4_sport INTEGER, orig_l4_dport INTEGER, reply_l4_sport INTEGER, reply_l4_dport INTEGER,
    orig_${counters} INTEGER, flow_start_sec INTEGER, flow_start_usec INTEGER, flow_end_sec INTEGER, flow_end_usec INTEGER)`);
  const ins = db.prepare(`INSERT INTO ulog2_ct (${addrs.join(', ')}, orig_ip_protocol, orig_l4_sport, orig_l4_dport, reply_l4_sport, reply_l4_dport,
    orig_${counters}, flow_start_sec, flow_start_usec, flow_end_sec, flow_end_usec) VALUES (${new Array(14).fill('?').join(', ')})`);
  for (const f of FLOWS) {
    const [os_, od, rs, rd] = [...f.o, ...f.r].map(split);
    ins.run(encode(os_[0]), encode(od[0]), encode(rs[0]), encode(rd[0]), f.proto, os_[1], od[1], rs[1], rd[1], f.pk ?? null, f.start, 0, f.end, 0);
  }
  db.close();
}

describe('nat-lookup on SQLite flow tables', () => {
  let dir: string;
  const tables = {
    text: 'text addresses (SQLITE3, orig_ip_saddr_str)',
    int: 'IPv4 integers (ulogd2 SQLite)',
    binary: '16-byte addresses (MYSQL flat table)',
  };
  const file = (k: string) => path.join(dir, `${k}.db`);
  const lookup = async (k: keyof typeof tables, endpoint: string, at: number, window = 60): Promise<Candidate[]> => {
    const e = parseEndpoint(endpoint);
    assert.equal(typeof e, 'object');
    const args: LookupArgs = { ...(e as Exclude<typeof e, string>), at, window, format: 'table' };
    const t = await sqliteFlowTable(file(k), 'ulog2_ct');
    try {
      return await natLookup(t, args);
    } finally {
      await t.close();
    }
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nat-lookup-'));
    makeDb(
      file('text'),
      'TEXT',
      (a) => a,
      (c) => `${c}_str`,
    );
    makeDb(file('int'), 'INT UNSIGNED', v4int, (c) => c);
    makeDb(file('binary'), 'binary(16)', v4mapped, (c) => c, 'packets');
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const k of Object.keys(tables) as (keyof typeof tables)[]) {
    it(`answers with the inside address and port of the SNAT flow at that time: ${tables[k]}`, async () => {
      const at10 = await lookup(k, '203.0.113.50:32768', T0 + 10, 5);
      assert.deepEqual(
        at10.map((c) => [c.match, c.inside, c.remote, c.protocol, c.start.sec, c.end?.sec, c.distance, c.orig.packets]),
        [['SNAT', { addr: '10.0.15.42', port: 51000 }, { addr: '198.51.100.7', port: 443 }, 6, T0, T0 + 30, 0, 12]],
      );
      // Both SNAT flows of that port within the window, nearest first; the untranslated one is not among them.
      const both = await lookup(k, '203.0.113.50:32768', T0 + 80, 60);
      assert.deepEqual(
        both.map((c) => [c.inside.addr, c.distance]),
        [
          ['10.0.15.43', 20],
          ['10.0.15.42', 50],
        ],
      );
      assert.deepEqual(await lookup(k, '203.0.113.50:32768', T0 + 200, 60), [], 'nothing after both ended');
    });

    it(`answers DNAT with the inside server, and an address without a port with every flow through it: ${tables[k]}`, async () => {
      const dnat = await lookup(k, '203.0.113.50:8080', T0 + 15);
      assert.deepEqual(
        dnat.map((c) => [c.match, c.inside, c.public, c.remote]),
        [['DNAT', { addr: '10.0.20.2', port: 80 }, { addr: '203.0.113.50', port: 8080 }, { addr: '192.0.2.9', port: 33333 }]],
      );
      const all = await lookup(k, '203.0.113.50', T0 + 6, 4);
      assert.deepEqual(all.map((c) => `${c.match} ${c.inside.addr}:${c.inside.port}`).sort(), [
        'DNAT 10.0.20.2:80',
        'SNAT 10.0.15.42:51000',
        'SNAT 10.0.15.44:40000',
      ]);
    });
  }

  it('keeps one candidate for a flow logged more than once (NEW, then DESTROY), the one with its end', async () => {
    const db = new Database(file('text'));
    db.prepare(`INSERT INTO ulog2_ct (orig_ip_saddr_str, orig_ip_daddr_str, reply_ip_saddr_str, reply_ip_daddr_str, orig_ip_protocol,
      orig_l4_sport, orig_l4_dport, reply_l4_sport, reply_l4_dport, flow_start_sec, flow_start_usec, flow_end_sec, flow_end_usec)
      VALUES ('10.0.15.43', '198.51.100.7', '198.51.100.7', '203.0.113.50', 6, 51001, 443, 443, 32768, ?, 0, 0, 0)`).run(T0 + 100);
    db.close();
    const found = await lookup('text', '203.0.113.50:32768', T0 + 110, 5);
    assert.deepEqual(
      found.map((c) => [c.inside.addr, c.end?.sec]),
      [['10.0.15.43', T0 + 130]],
    );
  });

  it('formats CSV and JSON that parse back to the candidates', async () => {
    const found = await lookup('text', '203.0.113.50:32768', T0 + 80, 60);
    const csv = formatCandidates(found, 'csv')
      .trimEnd()
      .split('\r\n')
      .map((l) => l.split(','));
    assert.equal(csv.length, 3);
    const row = Object.fromEntries(csv[0].map((h, i) => [h, csv[1][i]]));
    assert.deepEqual(
      [row.match, row.inside_addr, row.inside_port, row.public_addr, row.public_port, row.protocol, row.orig_packets],
      ['SNAT', '10.0.15.43', '51001', '203.0.113.50', '32768', 'tcp', '7'],
    );
    assert.equal(Date.parse(row.start) / 1000, T0 + 100);
    assert.equal(row.start, '2023-11-15T03:45:00.000000+05:30', 'local time with its offset');
    const json = JSON.parse(formatCandidates(found, 'json')) as { inside: { addr: string }; end: string }[];
    assert.deepEqual(
      json.map((c) => c.inside.addr),
      ['10.0.15.43', '10.0.15.42'],
    );
    assert.equal(Date.parse(json[1].end) / 1000, T0 + 30);
  });

  it('names the table and the missing column when the table is not a flow table', async () => {
    const db = new Database(file('ulog'));
    db.exec('CREATE TABLE ulog2_ct (ip_saddr TEXT, oob_prefix TEXT)');
    db.close();
    const t = await sqliteFlowTable(file('ulog'), 'ulog2_ct');
    await assert.rejects(natLookup(t, { addr: 1, addrText: '0.0.0.1', at: 0, window: 1, format: 'table' }), /no column orig_ip_saddr_str or orig_ip_saddr/);
    await t.close();
    await assert.rejects(sqliteFlowTable(path.join(dir, 'none.db'), 'ulog2_ct'), /SQLITE3 table ulog2_ct \(.*none\.db\): cannot open/);
  });
});
