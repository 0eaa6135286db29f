/**
 * nat-lookup: which inside address and port a translated address and port
 * stood for at a moment, from the flow table a `source NFCT` group writes
 * through PGSQL, MYSQL or SQLITE3 (ulogd2's `ulog2_ct`, or the table SQLITE3
 * makes from the keys). A flow matches on either side of the NAT:
 *
 *  - SNAT (masquerade): the reply goes back to the public address, so
 *    reply.ip.daddr:reply.l4.dport is ADDR:PORT; the inside is
 *    orig.ip.saddr:orig.l4.sport, the remote reply.ip.saddr:reply.l4.sport.
 *  - DNAT (port forward): the outside asked for orig.ip.daddr:orig.l4.dport;
 *    the inside is reply.ip.saddr:reply.l4.sport, the remote orig.ip.saddr.
 *
 * Only flows the NAT changed on that side count: the router's own untranslated
 * connections are not an answer. The SQL narrows by whole seconds (indexable
 * comparisons); the exact overlap of [start, end] with [at - window,
 * at + window], the distance to `at` and the order are computed here.
 */
import { ipv4ToString, ipv6ToString, type PluginCommand } from 'specter/plugin';
import { columnClass } from './columns.js';
import { LOOKUP_USAGE, parseLookupArgs, type LookupArgs } from './nat-lookup-args.js';
import { endpointText, formatCandidates, isoTime } from './nat-lookup-format.js';

export type Dialect = 'pgsql' | 'mysql' | 'sqlite3';

/** A flow table in one database: its columns, and a query on it. */
export interface FlowTable {
  readonly dialect: Dialect;
  /** The table as the configuration names it, for messages. */
  readonly label: string;
  /** The table quoted for SQL ("public"."ulog2_ct", `ulog2_ct`). */
  readonly sqlName: string;
  /** Its columns with their declared types; empty when there is no such table. */
  columns(): Promise<{ name: string; type: string }[]>;
  query(sql: string, params: unknown[]): Promise<{ [column: string]: unknown }[]>;
  close(): Promise<void>;
}

/** The columns a field may be in, in order of preference (ulogd2's names; MYSQL's flat table counts in orig_bytes). */
const FIELDS = {
  proto: ['orig_ip_protocol'],
  origSaddr: ['orig_ip_saddr_str', 'orig_ip_saddr'],
  origDaddr: ['orig_ip_daddr_str', 'orig_ip_daddr'],
  replySaddr: ['reply_ip_saddr_str', 'reply_ip_saddr'],
  replyDaddr: ['reply_ip_daddr_str', 'reply_ip_daddr'],
  origSport: ['orig_l4_sport'],
  origDport: ['orig_l4_dport'],
  replySport: ['reply_l4_sport'],
  replyDport: ['reply_l4_dport'],
  start: ['flow_start_sec'],
  startUsec: ['flow_start_usec'],
  end: ['flow_end_sec'],
  endUsec: ['flow_end_usec'],
  origPackets: ['orig_raw_pktcount', 'orig_packets'],
  origBytes: ['orig_raw_pktlen', 'orig_bytes'],
  replyPackets: ['reply_raw_pktcount', 'reply_packets'],
  replyBytes: ['reply_raw_pktlen', 'reply_bytes'],
} as const;
type Field = keyof typeof FIELDS;
const REQUIRED: readonly Field[] = ['origSaddr', 'origDaddr', 'replySaddr', 'replyDaddr', 'origSport', 'origDport', 'replySport', 'replyDport', 'start', 'end'];

interface Col {
  name: string;
  type: string;
}
type Resolved = { [F in Field]?: Col };

export interface Endpoint {
  addr: string;
  port: number | null;
}
export interface Time {
  sec: number;
  usec: number | null;
}

export interface Candidate {
  /** The side of the NAT that ADDR[:PORT] was: SNAT (the flow's source was translated to it) or DNAT. */
  match: 'SNAT' | 'DNAT';
  inside: Endpoint;
  /** The translated address and port: ADDR:PORT. */
  public: Endpoint;
  /** The other end of the flow, as the outside saw it. */
  remote: Endpoint;
  protocol: number | null;
  start: Time;
  /** null: the flow was open when its record was written (a NEW event or a table dump). */
  end: Time | null;
  /** Seconds between `at` and the flow (0 when `at` is inside it). */
  distance: number;
  orig: { packets: number | null; bytes: number | null };
  reply: { packets: number | null; bytes: number | null };
}

/** Picks the columns of each field; throws naming the table and what is missing. */
function resolveColumns(columns: readonly Col[]): Resolved {
  if (columns.length === 0) throw new Error('no such table');
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const out: Resolved = {};
  for (const f of Object.keys(FIELDS) as Field[]) {
    const col = FIELDS[f].map((n) => byName.get(n)).find(Boolean);
    if (col) out[f] = col;
    else if (REQUIRED.includes(f)) throw new Error(`no column ${FIELDS[f].join(' or ')}: not a flow table of source NFCT`);
  }
  return out;
}

/** The SQL and its parameters for one lookup: both sides of the NAT, one SELECT each. */
function lookupSql(table: FlowTable, cols: Resolved, args: LookupArgs): { sql: string; params: unknown[] } {
  const params: unknown[] = [];
  const p = (v: unknown) => {
    params.push(v);
    return table.dialect === 'pgsql' ? `$${params.length}` : '?';
  };
  const q = (f: Field) => {
    const c = cols[f];
    if (!c) return 'NULL';
    return table.dialect === 'mysql' ? `\`${c.name}\`` : `"${c.name}"`;
  };
  const select = Object.keys(FIELDS)
    .map((f) => `${q(f as Field)} AS ${snake(f)}`)
    .join(', ');
  const lo = Math.floor(args.at - args.window);
  const hi = Math.floor(args.at + args.window);
  const side = (name: 'SNAT' | 'DNAT', addr: Field, port: Field, before: Field, beforePort: Field) => {
    const where = [addressIs(q(addr), cols[addr]!, args, p)];
    if (args.port !== undefined) where.push(`${q(port)} = ${p(args.port)}`);
    where.push(`(${q(addr)} <> ${q(before)} OR COALESCE(${q(port)}, -1) <> COALESCE(${q(beforePort)}, -1))`);
    where.push(`${q('start')} <= ${p(hi)}`, `(${q('end')} >= ${p(lo)} OR ${q('end')} IS NULL OR ${q('end')} = 0)`);
    return `SELECT '${name}' AS nat_side, ${select} FROM ${table.sqlName} WHERE ${where.join(' AND ')}`;
  };
  const sql = `${side('SNAT', 'replyDaddr', 'replyDport', 'origSaddr', 'origSport')} UNION ALL ${side('DNAT', 'origDaddr', 'origDport', 'replySaddr', 'replySport')}`;
  return { sql, params };
}

function snake(f: string): string {
  return f.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The column equals the address, as the column's type stores it (text or inet, an IPv4 integer, 16 or 4 bytes). */
function addressIs(column: string, col: Col, args: LookupArgs, p: (v: unknown) => string): string {
  switch (columnClass(col.type)) {
    case 'int':
      if (typeof args.addr !== 'number') throw new Error(`column ${col.name} (${col.type}) holds IPv4 addresses only, not ${args.addrText}`);
      return `${column} = ${p(args.addr)}`;
    case 'binary':
      if (typeof args.addr !== 'number') return `${column} = ${p(Buffer.from(args.addr))}`;
      {
        // SQL outputs write IPv4 into a 16-byte column IPv4-mapped (::ffff:a.b.c.d); a 4-byte column as it is.
        const mapped = Buffer.alloc(16);
        mapped.writeUInt16BE(0xffff, 10);
        mapped.writeUInt32BE(args.addr, 12);
        const four = Buffer.alloc(4);
        four.writeUInt32BE(args.addr, 0);
        return `${column} IN (${p(mapped)}, ${p(four)})`;
      }
    default:
      return `${column} = ${p(args.addrText)}`;
  }
}

/** Runs the lookup: the candidates whose flow overlaps the window, nearest to `at` first. */
export async function natLookup(table: FlowTable, args: LookupArgs): Promise<Candidate[]> {
  const cols = resolveColumns(await table.columns());
  const { sql, params } = lookupSql(table, cols, args);
  const rows = await table.query(sql, params);
  const lo = args.at - args.window;
  const hi = args.at + args.window;
  const found = new Map<string, Candidate>();
  for (const r of rows) {
    const c = candidate(r, cols, args.at);
    const start = seconds(c.start);
    if (start > hi || (c.end && seconds(c.end) < lo)) continue;
    // A flow logged more than once (NEW and DESTROY events, table dumps) has one start: keep its most complete record.
    const id = `${c.match} ${c.inside.addr} ${c.inside.port} ${c.remote.addr} ${c.remote.port} ${c.protocol} ${c.start.sec} ${c.start.usec}`;
    const had = found.get(id);
    if (!had || better(c, had)) found.set(id, c);
  }
  return [...found.values()].sort((a, b) => a.distance - b.distance || seconds(a.start) - seconds(b.start));
}

function better(a: Candidate, b: Candidate): boolean {
  if (!a.end !== !b.end) return a.end !== null;
  if (a.end && b.end && seconds(a.end) !== seconds(b.end)) return seconds(a.end) > seconds(b.end);
  return (a.orig.packets ?? 0) > (b.orig.packets ?? 0);
}

export function seconds(t: Time): number {
  return t.sec + (t.usec ?? 0) / 1e6;
}

function candidate(r: { [column: string]: unknown }, cols: Resolved, at: number): Candidate {
  const v = (f: Field) => r[snake(f)];
  const ep = (addr: Field, port: Field): Endpoint => ({ addr: addressText(v(addr)), port: num(v(port)) });
  const origSrc = ep('origSaddr', 'origSport');
  const origDst = ep('origDaddr', 'origDport');
  const replySrc = ep('replySaddr', 'replySport');
  const replyDst = ep('replyDaddr', 'replyDport');
  const snat = r.nat_side === 'SNAT';
  const start: Time = { sec: num(v('start')) ?? 0, usec: cols.startUsec ? num(v('startUsec')) : null };
  const endSec = num(v('end'));
  const end: Time | null = endSec ? { sec: endSec, usec: cols.endUsec ? num(v('endUsec')) : null } : null;
  const s = seconds(start);
  const distance = at < s ? s - at : end && at > seconds(end) ? at - seconds(end) : 0;
  return {
    match: snat ? 'SNAT' : 'DNAT',
    inside: snat ? origSrc : replySrc,
    public: snat ? replyDst : origDst,
    remote: snat ? replySrc : origSrc,
    protocol: num(v('proto')),
    start,
    end,
    distance,
    orig: { packets: num(v('origPackets')), bytes: num(v('origBytes')) },
    reply: { packets: num(v('replyPackets')), bytes: num(v('replyBytes')) },
  };
}

function num(x: unknown): number | null {
  if (x === null || x === undefined || x === '') return null;
  const n = Number(x);
  return Number.isFinite(n) ? n : null;
}

/** An address as the database gave it back: text (text, inet), an IPv4 integer, or 16 or 4 bytes. */
function addressText(x: unknown): string {
  if (typeof x === 'string') return x.replace(/\/(32|128)$/, '');
  if (typeof x === 'number' || typeof x === 'bigint') return ipv4ToString(Number(x));
  if (x instanceof Uint8Array) {
    if (x.length === 4) return ipv4ToString(new DataView(x.buffer, x.byteOffset, 4).getUint32(0));
    const mapped = x.length === 16 && x.subarray(0, 10).every((y) => y === 0) && x[10] === 255 && x[11] === 255;
    return mapped ? [...x.subarray(12)].join('.') : ipv6ToString(x);
  }
  return String(x ?? '');
}

/**
 * The `nat-lookup` command of a SQL output: `open` connects to its table. Exit codes: 0 found, 1 nothing found.
 */
export function natLookupCommand(open: () => Promise<FlowTable>): PluginCommand {
  return {
    source: 'NFCT',
    usage: LOOKUP_USAGE,
    async run(argv, ctx) {
      const args = parseLookupArgs(argv, ctx.usage);
      const table = await open();
      let found: Candidate[];
      try {
        found = await natLookup(table, args);
      } catch (err) {
        throw new Error(`${table.label}: ${(err as Error).message}`);
      } finally {
        await table.close();
      }
      if (found.length === 0) {
        ctx.say(`no flow of ${table.label} used ${endpointText({ addr: args.addrText, port: args.port })} within ${args.window} s of ${isoTime(args.at)}`);
        return 1;
      }
      ctx.write(formatCandidates(found, args.format));
      return 0;
    },
  };
}
