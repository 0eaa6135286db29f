/**
 * nfnetlink_log wire format: configuration messages out, packet messages in.
 * Netlink headers and attribute headers are in host byte order (little
 * endian here); nfnetlink_log attribute payloads are big endian.
 */
import { i32le, u16be, u16le, u32be, u32le } from '../core/bytes.js';
import type { Packet } from '../core/packet.js';
import {
  MSG_TYPE_CONFIG,
  MSG_TYPE_PACKET,
  NFGENMSG_LEN,
  NFULA,
  NFULA_CFG,
  NFULA_VLAN_PROTO,
  NFULA_VLAN_TCI,
  NLA_HDRLEN,
  NLA_TYPE_MASK,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  NLMSG_HDRLEN,
} from './constants.js';

const align4 = (n: number) => (n + 3) & ~3;

export interface DecodeStats {
  packets: number;
  malformed: number;
}

/** A configuration message: one nfgenmsg and the given attributes (type, payload). */
export function encodeConfig(seq: number, family: number, group: number, attrs: Array<[number, Buffer]>): Buffer {
  let len = NLMSG_HDRLEN + NFGENMSG_LEN;
  for (const [, p] of attrs) len += align4(NLA_HDRLEN + p.length);
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(MSG_TYPE_CONFIG, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_ACK, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt32LE(0, 12);
  b.writeUInt8(family, 16);
  b.writeUInt8(0, 17); // NFNETLINK_V0
  b.writeUInt16BE(group, 18);
  let off = NLMSG_HDRLEN + NFGENMSG_LEN;
  for (const [type, p] of attrs) {
    b.writeUInt16LE(NLA_HDRLEN + p.length, off);
    b.writeUInt16LE(type, off + 2);
    p.copy(b, off + NLA_HDRLEN);
    off += align4(NLA_HDRLEN + p.length);
  }
  return b;
}

export const cfg = {
  cmd(command: number): [number, Buffer] {
    return [NFULA_CFG.CMD, Buffer.from([command])];
  },
  mode(copyMode: number, copyRange: number): [number, Buffer] {
    const p = Buffer.alloc(6);
    p.writeUInt32BE(copyRange >>> 0, 0);
    p.writeUInt8(copyMode, 4);
    return [NFULA_CFG.MODE, p];
  },
  u32(type: number, v: number): [number, Buffer] {
    const p = Buffer.alloc(4);
    p.writeUInt32BE(v >>> 0, 0);
    return [type, p];
  },
  flags(v: number): [number, Buffer] {
    const p = Buffer.alloc(2);
    p.writeUInt16BE(v, 0);
    return [NFULA_CFG.FLAGS, p];
  },
};

/**
 * Decodes every message of one datagram. Each packet message fills `pkt`
 * (reset first) and is handed to onPacket; acknowledgements go to onAck.
 * Malformed messages are counted and skipped; this never throws on bad input.
 */
export function decodeDatagram(
  buf: Buffer,
  pkt: Packet,
  onPacket: (pkt: Packet) => void,
  stats: DecodeStats,
  onAck?: (seq: number, errno: number) => void,
): void {
  let off = 0;
  const end = buf.length;
  while (off + NLMSG_HDRLEN <= end) {
    const len = u32le(buf, off);
    if (len < NLMSG_HDRLEN || off + len > end) {
      // The length cannot be trusted: nothing after it can be found.
      stats.malformed++;
      return;
    }
    const type = u16le(buf, off + 4);
    if (type === MSG_TYPE_PACKET) {
      if (decodePacket(buf, off, off + len, pkt)) {
        stats.packets++;
        onPacket(pkt);
      } else {
        stats.malformed++;
      }
    } else if (type === NLMSG_ERROR) {
      if (len >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) {
        const errno = -i32le(buf, off + NLMSG_HDRLEN);
        onAck?.(u32le(buf, off + NLMSG_HDRLEN + 4 + 8), errno);
      } else {
        stats.malformed++;
      }
    }
    off += align4(len);
  }
  if (off < end) stats.malformed++; // trailing bytes too short for a header
}

function decodePacket(buf: Buffer, start: number, end: number, pkt: Packet): boolean {
  let off = start + NLMSG_HDRLEN;
  if (off + NFGENMSG_LEN > end) return false;
  pkt.reset(buf);
  pkt.family = buf[off];
  pkt.group = u16be(buf, off + 2);
  off += NFGENMSG_LEN;
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const p = off + NLA_HDRLEN;
    const plen = alen - NLA_HDRLEN;
    switch (type) {
      case NFULA.PACKET_HDR:
        if (plen < 3) return false;
        pkt.hwProtocol = u16be(buf, p);
        pkt.hook = buf[p + 2];
        break;
      case NFULA.MARK:
        if (plen < 4) return false;
        pkt.mark = u32be(buf, p);
        break;
      case NFULA.TIMESTAMP:
        if (plen < 16) return false;
        // Seconds past 32 bits or microseconds past a second are no kernel time: left absent, BASE stamps the packet.
        if (u32be(buf, p) === 0 && u32be(buf, p + 8) === 0 && u32be(buf, p + 12) < 1_000_000) {
          pkt.tsSec = u32be(buf, p + 4);
          pkt.tsUsec = u32be(buf, p + 12);
        }
        break;
      case NFULA.IFINDEX_INDEV:
        if (plen < 4) return false;
        pkt.indev = u32be(buf, p);
        break;
      case NFULA.IFINDEX_OUTDEV:
        if (plen < 4) return false;
        pkt.outdev = u32be(buf, p);
        break;
      case NFULA.IFINDEX_PHYSINDEV:
        if (plen < 4) return false;
        pkt.physindev = u32be(buf, p);
        break;
      case NFULA.IFINDEX_PHYSOUTDEV:
        if (plen < 4) return false;
        pkt.physoutdev = u32be(buf, p);
        break;
      case NFULA.HWADDR: {
        if (plen < 4) return false;
        const n = u16be(buf, p);
        if (n > plen - 4) return false;
        pkt.hwAddrOff = p + 4;
        pkt.hwAddrLen = n;
        break;
      }
      case NFULA.PAYLOAD:
        pkt.payloadOff = p;
        pkt.payloadLen = plen;
        break;
      case NFULA.PREFIX: {
        // A C string: it ends at the first NUL.
        let n = 0;
        while (n < plen && buf[p + n] !== 0) n++;
        pkt.prefixOff = p;
        pkt.prefixLen = n;
        break;
      }
      case NFULA.UID:
        if (plen < 4) return false;
        pkt.uid = u32be(buf, p);
        break;
      case NFULA.GID:
        if (plen < 4) return false;
        pkt.gid = u32be(buf, p);
        break;
      case NFULA.SEQ:
        if (plen < 4) return false;
        pkt.seqLocal = u32be(buf, p);
        break;
      case NFULA.SEQ_GLOBAL:
        if (plen < 4) return false;
        pkt.seqGlobal = u32be(buf, p);
        break;
      case NFULA.HWTYPE:
        if (plen < 2) return false;
        pkt.hwType = u16be(buf, p);
        break;
      case NFULA.HWLEN:
        if (plen < 2) return false;
        pkt.hwLen = u16be(buf, p);
        break;
      case NFULA.HWHEADER:
        pkt.hwHeaderOff = p;
        pkt.hwHeaderLen = plen;
        break;
      case NFULA.L2HDR:
        pkt.l2HdrOff = p;
        pkt.l2HdrLen = plen;
        break;
      case NFULA.CT:
        pkt.ctOff = p;
        pkt.ctLen = plen;
        break;
      case NFULA.CT_INFO:
        if (plen < 4) return false;
        pkt.ctInfo = u32be(buf, p);
        break;
      case NFULA.VLAN:
        if (!decodeVlan(buf, p, p + plen, pkt)) return false;
        break;
      default:
        break; // attributes of newer kernels
    }
    off += align4(alen);
  }
  return true;
}

function decodeVlan(buf: Buffer, off: number, end: number, pkt: Packet): boolean {
  while (off + NLA_HDRLEN <= end) {
    const alen = u16le(buf, off);
    if (alen < NLA_HDRLEN || off + alen > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    if (alen >= NLA_HDRLEN + 2) {
      if (type === NFULA_VLAN_PROTO) pkt.vlanProto = u16be(buf, off + NLA_HDRLEN);
      else if (type === NFULA_VLAN_TCI) pkt.vlanTci = u16be(buf, off + NLA_HDRLEN);
    }
    off += align4(alen);
  }
  return true;
}
