/**
 * Writes one flow record (the conntrack keys, named as ulogd2 names them)
 * as an IPFIX data record of an IPv4 or IPv6 template, with 32-bit counters
 * when all four fit and 64-bit ones otherwise, straight into the message
 * buffer: fixed offsets, byte stores, no allocation per record.
 *
 * Translation: the reply tuple of a NATed connection is seen from the other
 * side, so the source after NAT is the reply's destination and the
 * destination after NAT the reply's source (ports likewise). Without NAT the
 * post-NAT fields repeat the original tuple, as the kernel's reply tuple does.
 */
import type { Key, Record } from 'specter/plugin';
import type { MessageBuilder } from './message.js';
import { recordLength, TEMPLATE_IPV4, TEMPLATE_IPV4_COUNT32, TEMPLATE_IPV6, TEMPLATE_IPV6_COUNT32, TEMPLATES } from './template.js';

const length = (id: number) => recordLength(TEMPLATES.get(id)!);
const LEN_IPV4 = length(TEMPLATE_IPV4);
const LEN_IPV6 = length(TEMPLATE_IPV6);
const LEN_IPV4_COUNT32 = length(TEMPLATE_IPV4_COUNT32);
const LEN_IPV6_COUNT32 = length(TEMPLATE_IPV6_COUNT32);
const ZERO16 = new Uint8Array(16);
const TWO32 = 0x100000000;

/** The keys the encoder reads; all but the original addresses may be missing from the group. */
export interface FlowKeys {
  origSaddr: Key;
  origDaddr: Key;
  protocol?: Key;
  origSport?: Key;
  origDport?: Key;
  replySaddr?: Key;
  replyDaddr?: Key;
  replySport?: Key;
  replyDport?: Key;
  origPkts?: Key;
  origBytes?: Key;
  replyPkts?: Key;
  replyBytes?: Key;
  startSec?: Key;
  startUsec?: Key;
  endSec?: Key;
  endUsec?: Key;
  icmpType?: Key;
  icmpCode?: Key;
  ctId?: Key;
  ctMark?: Key;
}

/**
 * The numeric fields, read from the record into a scratch array in this
 * order before any is written: one loop instead of a helper call per field
 * (V8 stops inlining calls into a function this long).
 */
const NUMERIC: ReadonlyArray<keyof FlowKeys> = [
  'origDaddr',
  'origSport',
  'origDport',
  'protocol',
  'replyDaddr',
  'replySaddr',
  'replyDport',
  'replySport',
  'icmpType',
  'icmpCode',
  'origPkts',
  'origBytes',
  'replyPkts',
  'replyBytes',
  'startSec',
  'startUsec',
  'endSec',
  'endUsec',
  'ctId',
  'ctMark',
];
const field = (name: keyof FlowKeys) => NUMERIC.indexOf(name);
const DADDR = field('origDaddr');
const SPORT = field('origSport');
const DPORT = field('origDport');
const PROTO = field('protocol');
const RDADDR = field('replyDaddr');
const RSADDR = field('replySaddr');
const RDPORT = field('replyDport');
const RSPORT = field('replySport');
const ICMP_TYPE = field('icmpType');
const ICMP_CODE = field('icmpCode');
const PKTS = field('origPkts');
const START_SEC = field('startSec');
const START_USEC = field('startUsec');
const END_SEC = field('endSec');
const END_USEC = field('endUsec');
const ID = field('ctId');
const MARK = field('ctMark');
/** The counters, from PKTS on (packets, bytes, reverse packets, reverse bytes): u64 keys, bigints that may pass 2^53. */
const COUNTERS = 4;

export class FlowEncoder {
  private readonly saddr: number;
  private readonly daddr: number;
  private readonly rsaddr: number;
  private readonly rdaddr: number;
  /** Slot of each NUMERIC field, -1 when the group lacks the key (read as absent). */
  private readonly slots: Int32Array;
  /** The NUMERIC fields of the record at hand; NaN when absent. */
  private readonly x: Float64Array;

  constructor(k: FlowKeys) {
    const slot = (key: Key | undefined) => key?.slot ?? -1;
    this.saddr = k.origSaddr.slot;
    this.daddr = k.origDaddr.slot;
    this.rsaddr = slot(k.replySaddr);
    this.rdaddr = slot(k.replyDaddr);
    this.slots = Int32Array.from(NUMERIC, (name) => slot(k[name]));
    this.x = new Float64Array(NUMERIC.length);
  }

  /** Adds the record to the open message; false (nothing written) when it is no IPv4 or IPv6 flow. */
  encode(rec: Record, msg: MessageBuilder): boolean {
    const v = rec.values;
    const p = rec.present;
    const saddr = at(v, p, this.saddr);
    const v6 = saddr instanceof Uint8Array && saddr.length === 16;
    if (!v6 && typeof saddr !== 'number') return false;
    const x = this.x;
    const slots = this.slots;
    for (let i = 0; i < slots.length; i++) {
      const val = at(v, p, slots[i]);
      x[i] = typeof val === 'number' ? val : typeof val === 'bigint' ? Number(val) : NaN;
    }
    let wide = false;
    for (let i = PKTS; i < PKTS + COUNTERS; i++) if (x[i] >= TWO32) wide = true;
    // DataView stores: V8 compiles them inline, and turns an absent field (NaN) into 0.
    const d = msg.view;
    let o: number;
    if (v6) {
      o = wide ? msg.reserve(TEMPLATE_IPV6, LEN_IPV6) : msg.reserve(TEMPLATE_IPV6_COUNT32, LEN_IPV6_COUNT32);
      o = addr6(msg.buf, o, saddr);
      o = addr6(msg.buf, o, at(v, p, this.daddr));
    } else {
      o = wide ? msg.reserve(TEMPLATE_IPV4, LEN_IPV4) : msg.reserve(TEMPLATE_IPV4_COUNT32, LEN_IPV4_COUNT32);
      d.setUint32(o, saddr as number);
      d.setUint32(o + 4, x[DADDR]);
      o += 8;
    }
    d.setUint16(o, x[SPORT]);
    d.setUint16(o + 2, x[DPORT]);
    d.setUint8(o + 4, x[PROTO]);
    o += 5;
    if (v6) {
      o = addr6(msg.buf, o, at(v, p, this.rdaddr));
      o = addr6(msg.buf, o, at(v, p, this.rsaddr));
    } else {
      d.setUint32(o, x[RDADDR]);
      d.setUint32(o + 4, x[RSADDR]);
      o += 8;
    }
    d.setUint16(o, x[RDPORT]);
    d.setUint16(o + 2, x[RSPORT]);
    d.setUint16(o + 4, Number.isNaN(x[ICMP_TYPE]) ? 0 : x[ICMP_TYPE] * 256 + (x[ICMP_CODE] || 0));
    o += 6;
    for (let i = PKTS; i < PKTS + COUNTERS; i++) {
      const n = x[i];
      if (!wide) {
        d.setUint32(o, Math.max(n, 0));
        o += 4;
        continue;
      }
      if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) u64(d, o, n);
      else d.setBigUint64(o, exact(at(v, p, slots[i])));
      o += 8;
    }
    // A flow without an end time ends now; one without a start time started when it ended.
    const end = Number.isNaN(x[END_SEC]) ? Date.now() : x[END_SEC] * 1000 + Math.floor((x[END_USEC] || 0) / 1000);
    u64(d, o, Number.isNaN(x[START_SEC]) ? end : x[START_SEC] * 1000 + Math.floor((x[START_USEC] || 0) / 1000));
    u64(d, o + 8, end);
    d.setUint32(o + 16, x[ID]);
    d.setUint32(o + 20, x[MARK]);
    return true;
  }
}

/** The value in a slot of the record, undefined when absent. */
function at(values: unknown[], present: Uint8Array, slot: number): unknown {
  return slot >= 0 && present[slot] === 1 ? values[slot] : undefined;
}

/** A whole number below 2^53, as two 32-bit halves. */
function u64(d: DataView, o: number, n: number): void {
  d.setUint32(o, n / TWO32);
  d.setUint32(o + 4, n % TWO32);
}

/** A counter a number cannot hold exactly (past 2^53) from its bigint; 0 when absent or a negative number. */
function exact(v: unknown): bigint {
  return typeof v === 'bigint' ? BigInt.asUintN(64, v) : 0n;
}

function addr6(b: Uint8Array, o: number, v: unknown): number {
  b.set(v instanceof Uint8Array && v.length === 16 ? v : ZERO16, o);
  return o + 16;
}
