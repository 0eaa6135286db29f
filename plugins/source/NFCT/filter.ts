/**
 * Filters at the source, as ulogd2's accept_src_filter, accept_dst_filter and
 * accept_proto_filter (plus a mark filter): a flow whose original tuple does
 * not match is not made into a record. Parsed once at start-up; matching a
 * flow reads only numbers and bytes of the datagram.
 */
import { IPPROTO } from './constants.js';
import type { Flow, FlowTuple } from './flow.js';

/** One address range: the family's address bytes and a prefix length. */
interface Range {
  bytes: Uint8Array;
  bits: number;
}

export interface FlowFilterSpec {
  src?: string;
  dst?: string;
  proto?: string;
  mark?: string;
}

const PROTO_NAMES: { [name: string]: number } = {
  icmp: IPPROTO.ICMP,
  tcp: IPPROTO.TCP,
  udp: IPPROTO.UDP,
  dccp: IPPROTO.DCCP,
  gre: IPPROTO.GRE,
  icmpv6: IPPROTO.ICMPV6,
  ipv6_icmp: IPPROTO.ICMPV6,
  sctp: IPPROTO.SCTP,
  udplite: IPPROTO.UDPLITE,
};

export class FlowFilter {
  private readonly src: Range[] | null;
  private readonly dst: Range[] | null;
  private readonly protos: Uint8Array | null;
  private readonly markValue: number;
  private readonly markMask: number;

  /** Throws an Error naming the filter and the bad entry. */
  constructor(spec: FlowFilterSpec) {
    this.src = spec.src ? parseRanges(spec.src, 'source address') : null;
    this.dst = spec.dst ? parseRanges(spec.dst, 'destination address') : null;
    this.protos = spec.proto ? parseProtos(spec.proto) : null;
    [this.markValue, this.markMask] = spec.mark ? parseMark(spec.mark) : [0, 0];
  }

  /** True when no filter is set: the source skips match(). */
  get empty(): boolean {
    return !this.src && !this.dst && !this.protos && this.markMask === 0;
  }

  /** Whether the flow's original direction passes every filter that is set. */
  match(f: Flow): boolean {
    const t = f.orig;
    if (this.protos && (t.proto < 0 || this.protos[t.proto] === 0)) return false;
    if (this.markMask !== 0 && (Math.max(f.mark, 0) & this.markMask) >>> 0 !== this.markValue) return false;
    if (this.src && !inRanges(f.buf, t, t.srcOff, this.src)) return false;
    if (this.dst && !inRanges(f.buf, t, t.dstOff, this.dst)) return false;
    return true;
  }
}

function inRanges(buf: Buffer, t: FlowTuple, off: number, ranges: Range[]): boolean {
  if (t.addrLen === 0) return false;
  for (let r = 0; r < ranges.length; r++) {
    const { bytes, bits } = ranges[r];
    if (bytes.length !== t.addrLen) continue;
    let i = 0;
    for (; (i + 1) * 8 <= bits; i++) if (buf[off + i] !== bytes[i]) break;
    if ((i + 1) * 8 <= bits) continue;
    const rest = bits - i * 8;
    if (rest === 0 || ((buf[off + i] ^ bytes[i]) & (0xff << (8 - rest)) & 0xff) === 0) return true;
  }
  return false;
}

/** "10.0.0.0/8, 2001:db8::/32, 192.0.2.1": addresses with optional prefix lengths. */
function parseRanges(text: string, what: string): Range[] {
  const out: Range[] = [];
  for (const item of text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const [addr, len, extra] = item.split('/');
    const bytes = addr.includes(':') ? parseIpv6(addr) : parseIpv4(addr);
    if (!bytes || extra !== undefined) throw new Error(`"${item}" is no ${what} range (an IPv4 or IPv6 address, optionally /prefix)`);
    const max = bytes.length * 8;
    const bits = len === undefined ? max : /^\d+$/.test(len) ? Number(len) : NaN;
    if (!(bits >= 0 && bits <= max)) throw new Error(`"${item}": the prefix length must be 0 to ${max}`);
    out.push({ bytes, bits });
  }
  if (out.length === 0) throw new Error(`lists no ${what} range`);
  return out;
}

function parseIpv4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return Uint8Array.from(parts.map(Number));
}

function parseIpv6(s: string): Uint8Array | null {
  const halves = s.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    const parts = h.split(':');
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes('.')) {
        const v4 = parseIpv4(p);
        if (!v4) return null;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return null;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return null;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((g, i) => {
    b[2 * i] = g >> 8;
    b[2 * i + 1] = g & 255;
  });
  return b;
}

/** "tcp, udp, 47": protocol names or numbers. */
function parseProtos(text: string): Uint8Array {
  const set = new Uint8Array(256);
  const items = text
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  for (const item of items) {
    const n = /^\d+$/.test(item) ? Number(item) : PROTO_NAMES[item.replace('-', '_')];
    if (n === undefined || n > 255) throw new Error(`"${item}" is no protocol (a number 0-255 or one of ${Object.keys(PROTO_NAMES).join(', ')})`);
    set[n] = 1;
  }
  if (items.length === 0) throw new Error('lists no protocol');
  return set;
}

/** "42" or "0x10/0xf0": the connection mark, optionally under a mask. */
export function parseMark(text: string): [number, number] {
  const m = /^\s*(0x[0-9a-f]+|\d+)\s*(?:\/\s*(0x[0-9a-f]+|\d+))?\s*$/i.exec(text);
  const num = (s: string) => Number(s);
  if (!m || num(m[1]) > 0xffffffff || (m[2] !== undefined && (num(m[2]) > 0xffffffff || num(m[2]) === 0))) {
    throw new Error(`"${text}" is no mark (a number, decimal or 0x hex, optionally /mask, at most 32 bits)`);
  }
  const mask = m[2] === undefined ? 0xffffffff : num(m[2]);
  return [(num(m[1]) & mask) >>> 0, mask >>> 0];
}
