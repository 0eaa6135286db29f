/**
 * nfnetlink_conntrack wire format: dump requests out, conntrack messages
 * (events and dump answers) in. Netlink and attribute headers are in host
 * byte order (little endian here); attribute payloads are big endian.
 * Decoding fills a reused Flow and never throws on bad input: a malformed
 * message is counted and skipped.
 */
import { i32le, nfnetlinkDump, u16be, u16le, u32be, u32le } from 'specter/plugin';
import {
  CTA,
  CTA_COUNTERS,
  CTA_IP,
  CTA_PROTO,
  CTA_PROTOINFO_TCP,
  CTA_PROTOINFO_TCP_STATE,
  CTA_TIMESTAMP,
  CTA_TUPLE,
  EVENT,
  MSG_CT_DELETE,
  MSG_CT_GET,
  MSG_CT_NEW,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_MULTI,
} from './constants.js';
import type { Flow, FlowTuple } from './flow.js';

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NFGENMSG_LEN = 4;
const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER

const align4 = (n: number) => (n + 3) & ~3;

export interface DecodeStats {
  flows: number;
  malformed: number;
}

export interface DecodeHandlers {
  /** One conntrack message; the Flow is reused after this returns. */
  flow(flow: Flow): void;
  /** NLMSG_ERROR: an acknowledgement (errno 0) or a refusal of the request `seq`. */
  ack?(seq: number, errno: number): void;
  /** NLMSG_DONE: the end of the dump answering request `seq`. */
  done?(seq: number): void;
}

/** A request to dump the whole conntrack table of `family` (0: every family). */
export const encodeDump = (seq: number, family = 0): Buffer => nfnetlinkDump(MSG_CT_GET, seq, family);

/** Decodes every message of one datagram: `buf` from `start` to `end` (by default the whole of it). */
export function decodeDatagram(buf: Buffer, flow: Flow, h: DecodeHandlers, stats: DecodeStats, start = 0, end = buf.length): void {
  let off = start;
  while (off + NLMSG_HDRLEN <= end) {
    const len = u32le(buf, off);
    if (len < NLMSG_HDRLEN || off + len > end) {
      // The length cannot be trusted: nothing after it can be found.
      stats.malformed++;
      return;
    }
    const type = u16le(buf, off + 4);
    if (type === MSG_CT_NEW || type === MSG_CT_DELETE) {
      const flags = u16le(buf, off + 6);
      if (decodeFlow(buf, off, off + len, flow)) {
        // A dump answers with NEW messages marked NLM_F_MULTI: no event, the table as it is.
        if (type === MSG_CT_DELETE) flow.event = EVENT.DESTROY;
        else if ((flags & (NLM_F_CREATE | NLM_F_EXCL)) !== 0) flow.event = EVENT.NEW;
        else if ((flags & NLM_F_MULTI) === 0) flow.event = EVENT.UPDATE;
        stats.flows++;
        h.flow(flow);
      } else {
        stats.malformed++;
      }
    } else if (type === NLMSG_ERROR) {
      if (len >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) h.ack?.(u32le(buf, off + NLMSG_HDRLEN + 4 + 8), -i32le(buf, off + NLMSG_HDRLEN));
      else stats.malformed++;
    } else if (type === NLMSG_DONE) {
      h.done?.(u32le(buf, off + 8));
    }
    off += align4(len);
  }
  if (off < end) stats.malformed++; // trailing bytes too short for a header
}

function decodeFlow(buf: Buffer, start: number, end: number, f: Flow): boolean {
  let off = start + NLMSG_HDRLEN;
  if (off + NFGENMSG_LEN > end) return false;
  f.reset(buf);
  f.portid = u32le(buf, start + 12);
  f.family = buf[off];
  off += NFGENMSG_LEN;
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const p = off + NLA_HDRLEN;
    const pend = off + alen;
    const plen = alen - NLA_HDRLEN;
    switch (type) {
      case CTA.TUPLE_ORIG:
        if (!decodeTuple(buf, p, pend, f.orig)) return false;
        break;
      case CTA.TUPLE_REPLY:
        if (!decodeTuple(buf, p, pend, f.reply)) return false;
        break;
      case CTA.STATUS:
        if (plen < 4) return false;
        f.status = u32be(buf, p);
        break;
      case CTA.MARK:
        if (plen < 4) return false;
        f.mark = u32be(buf, p);
        break;
      case CTA.ID:
        if (plen < 4) return false;
        f.id = u32be(buf, p);
        break;
      case CTA.TIMEOUT:
        if (plen < 4) return false;
        f.timeout = u32be(buf, p);
        break;
      case CTA.SECMARK:
        if (plen < 4) return false;
        f.secmark = u32be(buf, p);
        break;
      case CTA.ZONE:
        if (plen < 2) return false;
        f.zone = u16be(buf, p);
        break;
      case CTA.LABELS:
        f.labelsOff = p;
        f.labelsLen = plen;
        break;
      case CTA.PROTOINFO:
        if (!decodeProtoinfo(buf, p, pend, f)) return false;
        break;
      case CTA.COUNTERS_ORIG:
        if (!decodeCounters(buf, p, pend, f, false)) return false;
        break;
      case CTA.COUNTERS_REPLY:
        if (!decodeCounters(buf, p, pend, f, true)) return false;
        break;
      case CTA.TIMESTAMP:
        if (!decodeTimestamp(buf, p, pend, f)) return false;
        break;
      default:
        break; // helpers, sequence adjustments, attributes of newer kernels
    }
    off += align4(alen);
  }
  return true;
}

// Nested attributes are walked with plain loops: no closure or object per message.

function decodeTuple(buf: Buffer, off: number, end: number, t: FlowTuple): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const p = off + NLA_HDRLEN;
    if (type === CTA_TUPLE.IP) {
      if (!decodeIp(buf, p, off + alen, t)) return false;
    } else if (type === CTA_TUPLE.PROTO) {
      if (!decodeProto(buf, p, off + alen, t)) return false;
    } else if (type === CTA_TUPLE.ZONE) {
      if (alen < NLA_HDRLEN + 2) return false;
      t.zone = u16be(buf, p);
    }
    off += align4(alen);
  }
  return true;
}

/** Both addresses of one family make an address pair; a tuple missing one, or mixing families, has none. */
function decodeIp(buf: Buffer, off: number, end: number, t: FlowTuple): boolean {
  let srcLen = 0;
  let dstLen = 0;
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const plen = alen - NLA_HDRLEN;
    const p = off + NLA_HDRLEN;
    const size = type === CTA_IP.V4_SRC || type === CTA_IP.V4_DST ? 4 : type === CTA_IP.V6_SRC || type === CTA_IP.V6_DST ? 16 : 0;
    if (size > 0) {
      if (plen < size) return false;
      if (type === CTA_IP.V4_SRC || type === CTA_IP.V6_SRC) {
        t.srcOff = p;
        srcLen = size;
      } else {
        t.dstOff = p;
        dstLen = size;
      }
    }
    off += align4(alen);
  }
  t.addrLen = srcLen === dstLen ? srcLen : 0;
  return true;
}

function decodeProto(buf: Buffer, off: number, end: number, t: FlowTuple): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const plen = alen - NLA_HDRLEN;
    const p = off + NLA_HDRLEN;
    switch (type) {
      case CTA_PROTO.NUM:
        if (plen < 1) return false;
        t.proto = buf[p];
        break;
      case CTA_PROTO.SRC_PORT:
        if (plen < 2) return false;
        t.sport = u16be(buf, p);
        break;
      case CTA_PROTO.DST_PORT:
        if (plen < 2) return false;
        t.dport = u16be(buf, p);
        break;
      case CTA_PROTO.ICMP_ID:
      case CTA_PROTO.ICMPV6_ID:
        if (plen < 2) return false;
        t.icmpId = u16be(buf, p);
        break;
      case CTA_PROTO.ICMP_TYPE:
      case CTA_PROTO.ICMPV6_TYPE:
        if (plen < 1) return false;
        t.icmpType = buf[p];
        break;
      case CTA_PROTO.ICMP_CODE:
      case CTA_PROTO.ICMPV6_CODE:
        if (plen < 1) return false;
        t.icmpCode = buf[p];
        break;
      default:
        break;
    }
    off += align4(alen);
  }
  return true;
}

/** A 64-bit big-endian counter as a number (exact below 2^53, far beyond any real counter). */
const u64num = (buf: Buffer, p: number): number => u32be(buf, p) * 0x100000000 + u32be(buf, p + 4);

function decodeCounters(buf: Buffer, off: number, end: number, f: Flow, reply: boolean): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const plen = alen - NLA_HDRLEN;
    const p = off + NLA_HDRLEN;
    let v = -1;
    if (type === CTA_COUNTERS.PACKETS || type === CTA_COUNTERS.BYTES) {
      if (plen < 8) return false;
      v = u64num(buf, p);
    } else if (type === CTA_COUNTERS.PACKETS32 || type === CTA_COUNTERS.BYTES32) {
      if (plen < 4) return false;
      v = u32be(buf, p);
    }
    if (v >= 0) {
      const packets = type === CTA_COUNTERS.PACKETS || type === CTA_COUNTERS.PACKETS32;
      if (reply) {
        if (packets) f.replyPackets = v;
        else f.replyBytes = v;
      } else if (packets) {
        f.origPackets = v;
      } else {
        f.origBytes = v;
      }
    }
    off += align4(alen);
  }
  return true;
}

function decodeTimestamp(buf: Buffer, off: number, end: number, f: Flow): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const p = off + NLA_HDRLEN;
    if (type === CTA_TIMESTAMP.START || type === CTA_TIMESTAMP.STOP) {
      if (alen - NLA_HDRLEN < 8) return false;
      const sec = nsToSec(buf, p);
      // Zero is "not stamped"; seconds past 32 bits are no kernel time: both stay absent.
      if (sec > 0 && sec <= 0xffffffff) {
        if (type === CTA_TIMESTAMP.START) {
          f.startSec = sec;
          f.startNsec = nsRem;
        } else {
          f.stopSec = sec;
          f.stopNsec = nsRem;
        }
      }
    }
    off += align4(alen);
  }
  return true;
}

/** CTA_PROTOINFO: only the TCP state is kept (CTA_PROTOINFO_TCP, then CTA_PROTOINFO_TCP_STATE). */
function decodeProtoinfo(buf: Buffer, off: number, end: number, f: Flow): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    if ((u16le(buf, off + 2) & NLA_TYPE_MASK) === CTA_PROTOINFO_TCP) {
      const inner = off + alen;
      for (let o = off + NLA_HDRLEN; o + NLA_HDRLEN <= inner; ) {
        const l = u16le(buf, o);
        if (l < NLA_HDRLEN || o + l > inner) return false;
        if ((u16le(buf, o + 2) & NLA_TYPE_MASK) === CTA_PROTOINFO_TCP_STATE) {
          if (l < NLA_HDRLEN + 1) return false;
          f.tcpState = buf[o + NLA_HDRLEN];
        }
        o += align4(l);
      }
    }
    off += align4(alen);
  }
  return true;
}

/** The remainder (nanoseconds) of the last nsToSec call. */
let nsRem = 0;

/**
 * Whole seconds of a 64-bit big-endian nanosecond count, exactly and without
 * a bigint: long division by 1e9 over four 16-bit digits (every intermediate
 * stays below 2^53). The nanoseconds left over go to nsRem.
 */
function nsToSec(buf: Buffer, p: number): number {
  let q = 0;
  let r = 0;
  for (let i = 0; i < 8; i += 2) {
    const cur = r * 65536 + u16be(buf, p + i);
    const d = Math.floor(cur / 1e9);
    r = cur - d * 1e9;
    q = q * 65536 + d;
  }
  nsRem = r;
  return q;
}
