/**
 * End-to-end cases for the column rule of the server SQL outputs, through the
 * kernel path: ulogd2's own flat schema, loaded unchanged, fills from real
 * traffic; and columns with a DEFAULT that a key maps to are written.
 * (Test code shared by the PGSQL and MYSQL tests.)
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import { ulogd2Schema } from '../../../test/ulogd2-schemas.js';
import type { Server } from './kernel-cases.js';

export interface FlatServer {
  plugin: string;
  /** ulogd2's flat schema file for this server, e.g. pgsql-ulogd2-flat.sql. */
  schemaFile: string;
  /** Creates database `db` and feeds `sql` to the server's own client as a file; returns the plugin's config lines for table ulog2. */
  load(db: string, sql: string): string;
  /** ulog2's columns in table order: name and type as information_schema has it (`smallint`, `int(10) unsigned`). */
  columns(db: string): Array<[string, string]>;
  /** ulog2's rows as JSON objects: numbers as numbers, NULL as null, binary columns as lower-case hex. */
  rows(db: string): Array<Record<string, unknown>>;
  /** How a boolean key's value comes back from the server's column (true, or 1). */
  bool(v: boolean): unknown;
  drop(db: string): void;
}

const PREFIXES = ['u-tcp: ', 'u-udp: ', 'u-icmp: ', 'u-icmp6: ', 'u-udp6: '];
const LABEL = 3;

/** The key a ulogd2 column holds: `_` read as `.`, and `ip_saddr_bin` is ip.saddr.str in 16 bytes. */
const keyOf = (column: string) => column.replace(/_bin$/, '_str').replace(/_/g, '.');

/** A printable address as the 16 bytes ulogd2 stores in `_bin` columns (IPv4 as ::ffff:a.b.c.d), in hex. */
export function addressHex(a: string): string {
  if (a.includes('.'))
    return `00000000000000000000ffff${a
      .split('.')
      .map((n) => Number(n).toString(16).padStart(2, '0'))
      .join('')}`;
  const [head, tail] = a.split('::');
  const groups = (s: string | undefined) => (s ? s.split(':') : []);
  const h = groups(head);
  const t = groups(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t];
  return all
    .map((g) => g.padStart(4, '0'))
    .join('')
    .toLowerCase();
}

/** Whether an integer type the server checks (`smallint`, `int(10) unsigned`, ...) holds `v`. */
function holds(type: string, v: number): boolean {
  const m = /^(tiny|small|medium|big)?int(eger)?\b/.exec(type);
  if (!m) return true;
  const bits = ({ tiny: 8, small: 16, medium: 24, big: 64 } as { [k: string]: number })[m[1] ?? ''] ?? 32;
  return /unsigned/.test(type) ? v >= 0 && v < 2 ** bits : v >= -(2 ** (bits - 1)) && v < 2 ** (bits - 1);
}

/**
 * ulogd2's flat schema, as Debian ships it, loaded unchanged: TCP, UDP (from
 * the output hook), ICMP and IPv6 packets fill every column BASE can fill.
 * Each row is compared column by column with the same packet's JSON record
 * (written by the JSON output of the same group for exactly the columns'
 * keys), and the values the traffic fixes are checked on their own.
 */
export async function fillsUlogd2Flat(s: FlatServer): Promise<void> {
  const dir = tempDir();
  const db = `specter_u${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-ulogd2');
  let daemon: Daemon | undefined;
  try {
    const lines = s.load(db, ulogd2Schema(s.schemaFile));
    const types = new Map(s.columns(db));
    const columns = [...types.keys()].filter((c) => c !== '_id');
    assert.ok(columns.includes('oob_prefix') && columns.includes('oob_in') && columns.includes('oob_out'), `ulog2 columns: ${columns.join(', ')}`);
    const keys = columns.filter((c) => c !== 'raw_label').map(keyOf);
    ns.nft(`table inet t {
 chain input {
  type filter hook input priority 0; policy accept;
  tcp dport 7400 log group 7 prefix "${PREFIXES[0]}"
  icmp type echo-request log group 7 prefix "${PREFIXES[2]}"
  icmpv6 type echo-request log group 7 prefix "${PREFIXES[3]}"
  udp dport 7403 log group 7 prefix "${PREFIXES[4]}"
 }
 chain output {
  type filter hook output priority 0; policy accept;
  udp dport 7401 log group 7 prefix "${PREFIXES[1]}"
 }
}
`);
    const json = path.join(dir, 'records.json');
    const p = s.plugin.toLowerCase();
    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n7 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n ${p}label ${LABEL}\n ${p}spooldir ${dir}/spool\n plugin JSON\n jsonfile ${json}\n jsonsync\n jsonfields ${keys.join(',')}\n}\n`,
      ),
    );
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7400']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '127.0.0.1', '7401'], 'hello');
    } catch {
      /* refused */
    }
    ns.exec('ping', ['-c', '1', '127.0.0.1']);
    ns.exec('ping', ['-6', '-c', '1', '::1']);
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7403'], 'hello6');
    } catch {
      /* refused */
    }
    await waitFor(
      () => s.rows(db).length === PREFIXES.length,
      10000,
      `${PREFIXES.length} rows in ulog2 (have ${s.rows(db).length}; ${daemon!.stderr.slice(-400)})`,
    );
    await waitFor(() => fs.existsSync(json) && fs.readFileSync(json, 'utf8').trim().split('\n').length === PREFIXES.length, 5000, 'the JSON records');
    const records = fs
      .readFileSync(json, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const rows = s.rows(db);

    const row = (prefix: string) =>
      rows.find((r) => r.oob_prefix === prefix) ?? assert.fail(`no row with oob_prefix "${prefix}": ${JSON.stringify(rows.map((r) => r.oob_prefix))}`);
    const addr = (r: Record<string, unknown>, dir: 's' | 'd') => (`ip_${dir}addr_str` in r ? r[`ip_${dir}addr_str`] : r[`ip_${dir}addr_bin`]);
    const want = (a: string) => (columns.includes('ip_saddr_str') ? a : addressHex(a));

    // What the traffic itself fixes (BASE writes "" for the interface a hook has not, as the kernel's IN= and OUT=).
    const tcp = row('u-tcp: ');
    assert.deepEqual([tcp.oob_in, tcp.oob_out, tcp.oob_family, tcp.ip_protocol, tcp.tcp_dport, tcp.ip_ttl], ['lo', '', 2, 6, 7400, 64]);
    assert.deepEqual([addr(tcp, 's'), addr(tcp, 'd')], [want('127.0.0.1'), want('127.0.0.1')]);
    assert.deepEqual([tcp.tcp_syn, tcp.tcp_ack, tcp.tcp_fin, tcp.tcp_rst, tcp.tcp_psh, tcp.tcp_urg], [true, false, false, false, false, false].map(s.bool));
    assert.equal(typeof tcp.tcp_sport, 'number');
    assert.equal(tcp.udp_dport, null);
    const udp = row('u-udp: ');
    assert.deepEqual([udp.oob_in, udp.oob_out, udp.ip_protocol, udp.udp_dport, udp.udp_len, udp.tcp_dport], ['', 'lo', 17, 7401, 13, null]);
    const icmp = row('u-icmp: ');
    assert.deepEqual([icmp.oob_in, icmp.ip_protocol, icmp.icmp_type, icmp.icmp_code, icmp.icmp_echoseq], ['lo', 1, 8, 0, 1]);
    const icmp6 = row('u-icmp6: ');
    assert.deepEqual(
      [icmp6.oob_family, icmp6.ip_protocol, icmp6.icmpv6_type, icmp6.icmpv6_code, icmp6.icmpv6_echoseq, icmp6.ip6_hoplimit],
      [10, 58, 128, 0, 1, 64],
    );
    assert.deepEqual([addr(icmp6, 's'), addr(icmp6, 'd')], [want('::1'), want('::1')]);
    const udp6 = row('u-udp6: ');
    assert.deepEqual([udp6.oob_in, udp6.oob_family, udp6.ip_protocol, udp6.udp_dport, udp6.udp_len], ['lo', 10, 17, 7403, 14]);
    for (const r of rows) assert.ok(Math.abs((r.oob_time_sec as number) - Date.now() / 1000) < 120, `oob_time_sec ${r.oob_time_sec}`);

    // Every column holds what the pipeline decoded for its key (null where the packet has none).
    for (const rec of records) {
      const r = row(rec['oob.prefix'] as string);
      for (const c of columns) {
        const v = c === 'raw_label' ? LABEL : rec[keyOf(c)];
        if (typeof v === 'number' && !holds(types.get(c)!, v)) {
          // ulogd2's MySQL schema has oob_protocol smallint: IPv6's 0x86dd does not fit, the row goes in with NULL there.
          assert.equal(r[c], null, `${rec['oob.prefix']}column ${c}`);
          assert.match(daemon.stderr, new RegExp(`cannot hold are written as NULL: .*\\b${c} \\(`), `a warning about ${c}`);
          continue;
        }
        const expected = v === undefined ? null : typeof v === 'boolean' ? s.bool(v) : c.endsWith('_bin') ? addressHex(v as string) : v;
        assert.deepEqual(r[c], expected, `${rec['oob.prefix']}column ${c}`);
      }
    }
    const filled = columns.filter((c) => rows.some((r) => r[c] !== null));
    assert.ok(
      ['oob_prefix', 'oob_in', 'oob_out', 'mac_str', 'oob_time_sec', 'raw_label'].every((c) => filled.includes(c)),
      `filled: ${filled.join(', ')}`,
    );
  } finally {
    await daemon?.stop();
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A table whose every column has a DEFAULT: the columns a key maps to are
 * written with the packet's values, the others get their defaults, and the
 * identity and generated columns are the server's.
 */
export async function writesDefaultedColumns(s: Pick<Server, 'plugin' | 'setup' | 'query' | 'drop' | 'trueText'>, tableSql: string): Promise<void> {
  const dir = tempDir();
  const db = `specter_d${process.pid}_${Date.now() % 100000}`;
  const ns = new NetNs('spt-sqldf');
  let daemon: Daemon | undefined;
  try {
    const lines = s.setup(db, tableSql);
    ns.nft('table inet t {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 7500 log group 8 prefix "dflt: "\n }\n}\n');
    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n8 {\n plugin BASE\n plugin ${s.plugin}\n${lines}\n ${s.plugin.toLowerCase()}spooldir ${dir}/spool\n}\n`,
      ),
    );
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7500']);
    } catch {
      /* refused */
    }
    await waitFor(() => s.query(db, 'SELECT count(*) FROM ulog')[0][0] === '1', 10000, `one row (${daemon!.stderr.slice(-400)})`);
    const r = s.query(
      db,
      "SELECT id, oob_prefix, oob_in, tcp_dport, ip_saddr, tcp_syn, note, dport2, seen IS NOT NULL, oob_time_sec > '2020-01-01' FROM ulog",
    )[0];
    assert.deepEqual(r, ['1', 'dflt: ', 'lo', '7500', '127.0.0.1', s.trueText, 'kept', '15000', s.trueText, s.trueText]);
    assert.doesNotMatch(daemon.stderr, /map to no key/);
  } finally {
    await daemon?.stop();
    ns.delete();
    s.drop(db);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
