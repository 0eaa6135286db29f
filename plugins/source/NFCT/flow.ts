/**
 * The view of one conntrack message the codec fills and the source reads.
 * One object is reused per message, like the NFLOG Packet: numbers are plain
 * fields (-1 when absent), addresses and labels stay (offset, length) pairs
 * into `buf`, so nothing is copied or formatted unless an output asks.
 */
import { u32be } from 'specter/plugin';

export class FlowTuple {
  /** 4 (IPv4), 16 (IPv6) or 0 (no address attribute). */
  addrLen = 0;
  srcOff = 0;
  dstOff = 0;
  proto = -1;
  sport = -1;
  dport = -1;
  /** ICMP or ICMPv6 type, code and identifier (the protocol number tells which). */
  icmpType = -1;
  icmpCode = -1;
  icmpId = -1;
  /** CTA_TUPLE_ZONE: a zone that applies to this direction only. */
  zone = -1;

  reset(): void {
    this.addrLen = 0;
    this.proto = this.sport = this.dport = this.icmpType = this.icmpCode = this.icmpId = this.zone = -1;
  }

  /** The source IPv4 address as a number (host order); only when addrLen is 4. */
  src4(buf: Buffer): number {
    return u32be(buf, this.srcOff);
  }

  dst4(buf: Buffer): number {
    return u32be(buf, this.dstOff);
  }
}

export class Flow {
  buf: Buffer = EMPTY;
  /** EVENT.NEW, UPDATE or DESTROY; a dump's answer is 0. */
  event = 0;
  /** Protocol family (nfgenmsg): 2 = IPv4, 10 = IPv6. */
  family = 0;
  /** The netlink port of the process whose request caused the event (conntrack -D); 0 when the kernel's own. */
  portid = 0;
  readonly orig = new FlowTuple();
  readonly reply = new FlowTuple();
  status = -1;
  mark = -1;
  id = -1;
  zone = -1;
  /** Seconds left before the entry times out (absent in destroy events). */
  timeout = -1;
  secmark = -1;
  /** TCP state (enum tcp_conntrack), from CTA_PROTOINFO. */
  tcpState = -1;
  /** Counters (nf_conntrack_acct): exact as numbers below 2^53. */
  origPackets = -1;
  origBytes = -1;
  replyPackets = -1;
  replyBytes = -1;
  /** Timestamps (nf_conntrack_timestamp): seconds and nanoseconds since the epoch. */
  startSec = -1;
  startNsec = -1;
  stopSec = -1;
  stopNsec = -1;
  /** CTA_LABELS: the connection label bitmap (up to 128 bits). */
  labelsOff = 0;
  labelsLen = -1;

  reset(buf: Buffer): void {
    this.buf = buf;
    this.event = this.family = this.portid = 0;
    this.orig.reset();
    this.reply.reset();
    this.status = this.mark = this.id = this.zone = this.timeout = this.secmark = this.tcpState = -1;
    this.origPackets = this.origBytes = this.replyPackets = this.replyBytes = -1;
    this.startSec = this.startNsec = this.stopSec = this.stopNsec = -1;
    this.labelsLen = -1;
  }
}

const EMPTY = Buffer.alloc(0);
