/**
 * Writes one flow record (the conntrack keys, named as ulogd2 names them)
 * as an IPFIX data record of the IPv4 or IPv6 template, straight into the
 * message buffer: fixed offsets, no allocation per record.
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

export class FlowEncoder {
  constructor(private readonly k: FlowKeys) {}

  /** Adds the record to the open message; false (nothing written) when it is no IPv4 or IPv6 flow. */
  encode(rec: Record, msg: MessageBuilder): boolean {
    const k = this.k;
    const saddr = rec.get(k.origSaddr);
    const v6 = saddr instanceof Uint8Array ? saddr.length === 16 : false;
    if (!v6 && typeof saddr !== 'number') return false;
    const b = msg.buf;
    let o = v6 ? msg.reserve(TEMPLATE_IPV6, LEN_IPV6) : msg.reserve(TEMPLATE_IPV4, LEN_IPV4);
    const addr = v6 ? addr6 : addr4;
    o = addr(b, o, saddr);
    o = addr(b, o, rec.get(k.origDaddr));
    o = u16(b, o, get(rec, k.origSport));
    o = u16(b, o, get(rec, k.origDport));
    b[o++] = num(get(rec, k.protocol));
    o = addr(b, o, get(rec, k.replyDaddr));
    o = addr(b, o, get(rec, k.replySaddr));
    o = u16(b, o, get(rec, k.replyDport));
    o = u16(b, o, get(rec, k.replySport));
    const type = get(rec, k.icmpType);
    o = u16(b, o, type === undefined ? 0 : (num(type) << 8) | num(get(rec, k.icmpCode)));
    o = u64(b, o, get(rec, k.origPkts));
    o = u64(b, o, get(rec, k.origBytes));
    o = u64(b, o, get(rec, k.replyPkts));
    o = u64(b, o, get(rec, k.replyBytes));
    // A flow without an end time ends now; one without a start time started when it ended.
    const end = millis(get(rec, k.endSec), get(rec, k.endUsec)) ?? Date.now();
    o = u64(b, o, millis(get(rec, k.startSec), get(rec, k.startUsec)) ?? end);
    o = u64(b, o, end);
    o = u64(b, o, get(rec, k.ctId));
    b.writeUInt32BE(num(get(rec, k.ctMark)) >>> 0, o);
    return true;
  }
}

function get(rec: Record, key: Key | undefined): unknown {
  return key === undefined ? undefined : rec.get(key);
}

function num(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : 0;
}

function millis(sec: unknown, usec: unknown): number | undefined {
  if (sec === undefined) return undefined;
  return num(sec) * 1000 + Math.floor(num(usec) / 1000);
}

function addr4(b: Buffer, o: number, v: unknown): number {
  b.writeUInt32BE(typeof v === 'number' ? v >>> 0 : 0, o);
  return o + 4;
}

function addr6(b: Buffer, o: number, v: unknown): number {
  b.set(v instanceof Uint8Array && v.length === 16 ? v : ZERO16, o);
  return o + 16;
}

function u16(b: Buffer, o: number, v: unknown): number {
  b.writeUInt16BE(num(v) & 0xffff, o);
  return o + 2;
}

/** Counters arrive as bigint (u64 keys) or as numbers. */
function u64(b: Buffer, o: number, v: unknown): number {
  if (typeof v === 'bigint') {
    b.writeBigUInt64BE(BigInt.asUintN(64, v), o);
  } else {
    const n = typeof v === 'number' && v > 0 ? v : 0;
    b.writeUInt32BE(Math.floor(n / 0x100000000) >>> 0, o);
    b.writeUInt32BE(n >>> 0, o + 4);
  }
  return o + 8;
}
