/**
 * Writes one flow record (the conntrack keys, named as ulogd2 names them)
 * as an IPFIX data record of the IPv4 or IPv6 template, straight into the
 * message buffer: fixed offsets, byte stores, no allocation per record.
 *
 * Translation: the reply tuple of a NATed connection is seen from the other
 * side, so the source after NAT is the reply's destination and the
 * destination after NAT the reply's source (ports likewise). Without NAT the
 * post-NAT fields repeat the original tuple, as the kernel's reply tuple does.
 */
import type { Key, Record } from 'specter/plugin';
import type { MessageBuilder } from './message.js';
import { FIELDS_IPV4, FIELDS_IPV6, recordLength, TEMPLATE_IPV4, TEMPLATE_IPV6 } from './template.js';

const LEN_IPV4 = recordLength(FIELDS_IPV4);
const LEN_IPV6 = recordLength(FIELDS_IPV6);
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

/** Each key's slot, -1 when the group lacks it (read as absent). */
type Slots = { [K in keyof FlowKeys]-?: number };

export class FlowEncoder {
  private readonly s: Slots;

  constructor(k: FlowKeys) {
    const s = {} as Slots;
    for (const name of SLOT_NAMES) s[name] = k[name]?.slot ?? -1;
    this.s = s;
  }

  /** Adds the record to the open message; false (nothing written) when it is no IPv4 or IPv6 flow. */
  encode(rec: Record, msg: MessageBuilder): boolean {
    const s = this.s;
    const v = rec.values;
    const p = rec.present;
    const saddr = at(v, p, s.origSaddr);
    const v6 = saddr instanceof Uint8Array && saddr.length === 16;
    if (!v6 && typeof saddr !== 'number') return false;
    const b = msg.buf;
    let o: number;
    if (v6) {
      o = msg.reserve(TEMPLATE_IPV6, LEN_IPV6);
      o = addr6(b, o, saddr);
      o = addr6(b, o, at(v, p, s.origDaddr));
    } else {
      o = msg.reserve(TEMPLATE_IPV4, LEN_IPV4);
      o = w32(b, o, saddr as number);
      o = w32(b, o, num(at(v, p, s.origDaddr)));
    }
    o = w16(b, o, num(at(v, p, s.origSport)));
    o = w16(b, o, num(at(v, p, s.origDport)));
    b[o++] = num(at(v, p, s.protocol));
    if (v6) {
      o = addr6(b, o, at(v, p, s.replyDaddr));
      o = addr6(b, o, at(v, p, s.replySaddr));
    } else {
      o = w32(b, o, num(at(v, p, s.replyDaddr)));
      o = w32(b, o, num(at(v, p, s.replySaddr)));
    }
    o = w16(b, o, num(at(v, p, s.replyDport)));
    o = w16(b, o, num(at(v, p, s.replySport)));
    const type = at(v, p, s.icmpType);
    o = w16(b, o, type === undefined ? 0 : (num(type) << 8) | num(at(v, p, s.icmpCode)));
    o = u64(b, o, at(v, p, s.origPkts));
    o = u64(b, o, at(v, p, s.origBytes));
    o = u64(b, o, at(v, p, s.replyPkts));
    o = u64(b, o, at(v, p, s.replyBytes));
    // A flow without an end time ends now; one without a start time started when it ended.
    const endSec = at(v, p, s.endSec);
    const end = endSec === undefined ? Date.now() : millis(endSec, at(v, p, s.endUsec));
    const startSec = at(v, p, s.startSec);
    o = u64(b, o, startSec === undefined ? end : millis(startSec, at(v, p, s.startUsec)));
    o = u64(b, o, end);
    o = u64(b, o, at(v, p, s.ctId));
    w32(b, o, num(at(v, p, s.ctMark)));
    return true;
  }
}

const SLOT_NAMES: ReadonlyArray<keyof FlowKeys> = [
  'origSaddr',
  'origDaddr',
  'protocol',
  'origSport',
  'origDport',
  'replySaddr',
  'replyDaddr',
  'replySport',
  'replyDport',
  'origPkts',
  'origBytes',
  'replyPkts',
  'replyBytes',
  'startSec',
  'startUsec',
  'endSec',
  'endUsec',
  'icmpType',
  'icmpCode',
  'ctId',
  'ctMark',
];

/** The value in a slot of the record, undefined when absent. */
function at(values: unknown[], present: Uint8Array, slot: number): unknown {
  return slot >= 0 && present[slot] === 1 ? values[slot] : undefined;
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}

function millis(sec: unknown, usec: unknown): number {
  return num(sec) * 1000 + Math.floor(num(usec) / 1000);
}

function w16(b: Uint8Array, o: number, n: number): number {
  b[o] = n >>> 8;
  b[o + 1] = n;
  return o + 2;
}

function w32(b: Uint8Array, o: number, n: number): number {
  b[o] = n >>> 24;
  b[o + 1] = n >>> 16;
  b[o + 2] = n >>> 8;
  b[o + 3] = n;
  return o + 4;
}

function addr6(b: Uint8Array, o: number, v: unknown): number {
  b.set(v instanceof Uint8Array && v.length === 16 ? v : ZERO16, o);
  return o + 16;
}

/**
 * Counters arrive as bigint (u64 keys) or as numbers; one exact below 2^53
 * (every real counter and time) is written from a number, without the
 * bigint shifts of writeBigUInt64BE.
 */
function u64(b: Buffer, o: number, v: unknown): number {
  const n = typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
  if (n >= 0 && n <= Number.MAX_SAFE_INTEGER) {
    w32(b, o, Math.floor(n / TWO32));
    w32(b, o + 4, n % TWO32);
  } else if (typeof v === 'bigint') {
    b.writeBigUInt64BE(BigInt.asUintN(64, v), o);
  } else {
    b.fill(0, o, o + 8);
  }
  return o + 8;
}
