/**
 * Fills a record from a decoded conntrack message. Each key's slot is looked
 * up once (-1 when no output reads it), so a flow costs only the keys in use.
 * The flow's times are given by the source, which knows where they come from
 * (the kernel's timestamps, a remembered NEW event, or the arrival time).
 */
import { copyBytes, ipv4ToString, ipv6ToString, LastBytes, type Key, type Record } from 'specter/plugin';
import { IPPROTO } from './constants.js';
import type { Flow, FlowTuple } from './flow.js';
import { NFCT_KEYS } from './keys.js';

type Want = (name: string) => Key | null | undefined;

/** Slots of one direction's keys, in the order tuple() of keys.ts lists them. */
interface TupleSlots {
  saddr: number;
  daddr: number;
  saddrStr: number;
  daddrStr: number;
  proto: number;
  sport: number;
  dport: number;
  bytes: number;
  packets: number;
  /** The same counters under the MySQL table's column names (orig.bytes, orig.packets). */
  bytesAlias: number;
  packetsAlias: number;
}

/**
 * Counters below this are bigints made once: most flows count few packets
 * and bytes, and a bigint made per counter and flow is an allocation each.
 */
const SMALL = 4096;
const SMALL_BIG: readonly bigint[] = Array.from({ length: SMALL }, (_, i) => BigInt(i));
const big = (n: number): bigint => (n < SMALL ? SMALL_BIG[n] : BigInt(n));

/** Protocols whose tuple carries ports. */
const HAS_PORTS = new Uint8Array(256);
for (const p of [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.UDPLITE, IPPROTO.SCTP, IPPROTO.DCCP]) HAS_PORTS[p] = 1;

export class FlowFiller {
  private readonly orig: TupleSlots;
  private readonly reply: TupleSlots;
  private readonly slot: (name: string) => number;
  private readonly icmpType: number;
  private readonly icmpCode: number;
  private readonly icmpId: number;
  private readonly mark: number;
  private readonly id: number;
  private readonly event: number;
  private readonly startSec: number;
  private readonly startUsec: number;
  private readonly endSec: number;
  private readonly endUsec: number;
  private readonly family: number;
  private readonly zone: number;
  private readonly labels: number;
  private readonly status: number;
  private readonly timeout: number;
  private readonly tcpState: number;
  private readonly portid: number;
  // IPv6 addresses and their text repeat from flow to flow (one server, one NAT address): made once while they do.
  private readonly v6 = [0, 1, 2, 3].map(() => new LastBytes(copyBytes));
  private readonly v6Str = [0, 1, 2, 3].map(() => new LastBytes((b, s, e) => ipv6ToString(b.subarray(s, e))));

  /** Without `want`, every key is filled in the registry order of NFCT_KEYS (slot i for key i), as the fuzz test does. */
  constructor(want?: Want) {
    const slots = new Map<string, number>();
    NFCT_KEYS.forEach((d, i) => {
      const key = want ? want(d.name) : { slot: i };
      slots.set(d.name, key ? key.slot : -1);
    });
    this.slot = (name) => slots.get(name) ?? -1;
    const s = this.slot;
    const tuple = (dir: string): TupleSlots => ({
      saddr: s(`${dir}.ip.saddr`),
      daddr: s(`${dir}.ip.daddr`),
      saddrStr: s(`${dir}.ip.saddr.str`),
      daddrStr: s(`${dir}.ip.daddr.str`),
      proto: s(`${dir}.ip.protocol`),
      sport: s(`${dir}.l4.sport`),
      dport: s(`${dir}.l4.dport`),
      bytes: s(`${dir}.raw.pktlen`),
      packets: s(`${dir}.raw.pktcount`),
      bytesAlias: s(`${dir}.bytes`),
      packetsAlias: s(`${dir}.packets`),
    });
    this.orig = tuple('orig');
    this.reply = tuple('reply');
    this.icmpType = s('icmp.type');
    this.icmpCode = s('icmp.code');
    this.icmpId = s('icmp.id');
    this.mark = s('ct.mark');
    this.id = s('ct.id');
    this.event = s('ct.event');
    this.startSec = s('flow.start.sec');
    this.startUsec = s('flow.start.usec');
    this.endSec = s('flow.end.sec');
    this.endUsec = s('flow.end.usec');
    this.family = s('oob.family');
    this.zone = s('ct.zone');
    this.labels = s('ct.labels');
    this.status = s('ct.status');
    this.timeout = s('ct.timeout');
    this.tcpState = s('ct.tcp.state');
    this.portid = s('ct.portid');
  }

  /** True when some output reads a key. */
  wants(name: string): boolean {
    return this.slot(name) >= 0;
  }

  /** Fills `rec` from `f`; times are -1 when unknown (the keys stay absent). */
  fill(f: Flow, rec: Record, startSec = -1, startUsec = -1, endSec = -1, endUsec = -1): void {
    this.tuple(f, f.orig, this.orig, rec, 0);
    this.tuple(f, f.reply, this.reply, rec, 2);
    const o = f.orig;
    if (o.proto === IPPROTO.ICMP || o.proto === IPPROTO.ICMPV6) {
      if (this.icmpType >= 0 && o.icmpType >= 0) rec.setSlot(this.icmpType, o.icmpType);
      if (this.icmpCode >= 0 && o.icmpCode >= 0) rec.setSlot(this.icmpCode, o.icmpCode);
      if (this.icmpId >= 0 && o.icmpId >= 0) rec.setSlot(this.icmpId, o.icmpId);
    }
    // The kernel leaves a mark of 0 out of events; ulogd2 writes 0 then, and so does this.
    if (this.mark >= 0) rec.setSlot(this.mark, Math.max(f.mark, 0));
    if (this.id >= 0 && f.id >= 0) rec.setSlot(this.id, f.id);
    if (this.event >= 0) rec.setSlot(this.event, f.event);
    if (this.family >= 0) rec.setSlot(this.family, f.family);
    if (this.zone >= 0 && f.zone >= 0) rec.setSlot(this.zone, f.zone);
    if (this.labels >= 0 && f.labelsLen > 0) rec.setSlot(this.labels, copyBytes(f.buf, f.labelsOff, f.labelsOff + f.labelsLen));
    if (this.status >= 0 && f.status >= 0) rec.setSlot(this.status, f.status);
    if (this.timeout >= 0 && f.timeout >= 0) rec.setSlot(this.timeout, f.timeout);
    if (this.tcpState >= 0 && f.tcpState >= 0) rec.setSlot(this.tcpState, f.tcpState);
    if (this.portid >= 0 && f.portid !== 0) rec.setSlot(this.portid, f.portid);
    if (startSec >= 0) {
      if (this.startSec >= 0) rec.setSlot(this.startSec, startSec);
      if (this.startUsec >= 0) rec.setSlot(this.startUsec, startUsec);
    }
    if (endSec >= 0) {
      if (this.endSec >= 0) rec.setSlot(this.endSec, endSec);
      if (this.endUsec >= 0) rec.setSlot(this.endUsec, endUsec);
    }
  }

  private tuple(f: Flow, t: FlowTuple, s: TupleSlots, rec: Record, v6: number): void {
    const buf = f.buf;
    if (t.addrLen === 4) {
      if (s.saddr >= 0) rec.setSlot(s.saddr, t.src4(buf));
      if (s.daddr >= 0) rec.setSlot(s.daddr, t.dst4(buf));
      if (s.saddrStr >= 0) rec.setSlot(s.saddrStr, ipv4ToString(t.src4(buf)));
      if (s.daddrStr >= 0) rec.setSlot(s.daddrStr, ipv4ToString(t.dst4(buf)));
    } else if (t.addrLen === 16) {
      if (s.saddr >= 0) rec.setSlot(s.saddr, this.v6[v6].get(buf, t.srcOff, t.srcOff + 16));
      if (s.daddr >= 0) rec.setSlot(s.daddr, this.v6[v6 + 1].get(buf, t.dstOff, t.dstOff + 16));
      if (s.saddrStr >= 0) rec.setSlot(s.saddrStr, this.v6Str[v6].get(buf, t.srcOff, t.srcOff + 16));
      if (s.daddrStr >= 0) rec.setSlot(s.daddrStr, this.v6Str[v6 + 1].get(buf, t.dstOff, t.dstOff + 16));
    }
    if (s.proto >= 0 && t.proto >= 0) rec.setSlot(s.proto, t.proto);
    if (t.proto >= 0 && HAS_PORTS[t.proto] === 1) {
      if (s.sport >= 0 && t.sport >= 0) rec.setSlot(s.sport, t.sport);
      if (s.dport >= 0 && t.dport >= 0) rec.setSlot(s.dport, t.dport);
    }
    // Counters are 64-bit keys (bigint), as in ulogd2; absent when nf_conntrack_acct is off.
    const reply = t !== f.orig;
    const bytes = reply ? f.replyBytes : f.origBytes;
    const packets = reply ? f.replyPackets : f.origPackets;
    if (bytes >= 0 && (s.bytes >= 0 || s.bytesAlias >= 0)) {
      const b = big(bytes);
      if (s.bytes >= 0) rec.setSlot(s.bytes, b);
      if (s.bytesAlias >= 0) rec.setSlot(s.bytesAlias, b);
    }
    if (packets >= 0 && (s.packets >= 0 || s.packetsAlias >= 0)) {
      const n = big(packets);
      if (s.packets >= 0) rec.setSlot(s.packets, n);
      if (s.packetsAlias >= 0) rec.setSlot(s.packetsAlias, n);
    }
  }
}
