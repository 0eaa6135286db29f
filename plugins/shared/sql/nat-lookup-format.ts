/** nat-lookup's answer as a table for people, CSV (RFC 4180) or a JSON array. */
import type { LookupFormat } from './nat-lookup-args.js';
import type { Candidate, Endpoint, Time } from './nat-lookup.js';

const PROTOCOLS: { readonly [n: number]: string } = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };

function protocolName(n: number | null): string {
  return n === null ? '' : (PROTOCOLS[n] ?? String(n));
}

/** ADDR:PORT, [ADDR]:PORT for IPv6, ADDR alone when the protocol has no ports. */
export function endpointText(e: { addr: string; port?: number | null }): string {
  if (e.port === null || e.port === undefined) return e.addr;
  return e.addr.includes(':') ? `[${e.addr}]:${e.port}` : `${e.addr}:${e.port}`;
}

/** ISO 8601 in local time with its offset, microseconds when the table has them. */
export function isoTime(t: Time | number): string {
  const sec = typeof t === 'number' ? Math.floor(t) : t.sec;
  const frac =
    typeof t === 'number'
      ? t % 1
        ? `.${String(Math.round((t % 1) * 1e6)).padStart(6, '0')}`
        : ''
      : t.usec === null
        ? ''
        : `.${String(t.usec).padStart(6, '0')}`;
  const d = new Date(sec * 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  const off = -d.getTimezoneOffset();
  const zone = `${off < 0 ? '-' : '+'}${two(Math.floor(Math.abs(off) / 60))}:${two(Math.abs(off) % 60)}`;
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}${frac}${zone}`;
}

export function formatCandidates(list: readonly Candidate[], format: LookupFormat): string {
  switch (format) {
    case 'json':
      return `${JSON.stringify(list.map(jsonForm), null, 2)}\n`;
    case 'csv':
      return [CSV_HEADER, ...list.map((c) => csvRow(c).map(csvField).join(','))].map((l) => `${l}\r\n`).join('');
    case 'table':
      return table(list);
  }
}

function jsonForm(c: Candidate) {
  const ep = (e: Endpoint) => ({ addr: e.addr, port: e.port });
  return {
    match: c.match,
    inside: ep(c.inside),
    public: ep(c.public),
    remote: ep(c.remote),
    protocol: protocolName(c.protocol),
    start: isoTime(c.start),
    end: c.end ? isoTime(c.end) : null,
    distance: round6(c.distance),
    orig: c.orig,
    reply: c.reply,
  };
}

const CSV_HEADER =
  'match,inside_addr,inside_port,public_addr,public_port,remote_addr,remote_port,protocol,start,end,distance,orig_packets,orig_bytes,reply_packets,reply_bytes';

function csvRow(c: Candidate): (string | number | null)[] {
  return [
    c.match,
    c.inside.addr,
    c.inside.port,
    c.public.addr,
    c.public.port,
    c.remote.addr,
    c.remote.port,
    protocolName(c.protocol),
    isoTime(c.start),
    c.end ? isoTime(c.end) : '',
    round6(c.distance),
    c.orig.packets,
    c.orig.bytes,
    c.reply.packets,
    c.reply.bytes,
  ];
}

function csvField(v: string | number | null): string {
  const s = v === null ? '' : String(v);
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

function table(list: readonly Candidate[]): string {
  const counts = (x: { packets: number | null; bytes: number | null }) =>
    x.packets === null && x.bytes === null ? '-' : `${x.packets ?? '-'}/${x.bytes ?? '-'}`;
  const rows = [
    ['MATCH', 'INSIDE', 'PUBLIC', 'REMOTE', 'PROTO', 'START', 'END', 'ORIG PKTS/BYTES', 'REPLY PKTS/BYTES'],
    ...list.map((c) => [
      c.match,
      endpointText(c.inside),
      endpointText(c.public),
      endpointText(c.remote),
      protocolName(c.protocol),
      isoTime(c.start),
      c.end ? isoTime(c.end) : '(open)',
      counts(c.orig),
      counts(c.reply),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => `${r.map((x, i) => (i === r.length - 1 ? x : x.padEnd(widths[i]))).join('  ')}\n`).join('');
}

function round6(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
