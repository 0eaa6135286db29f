/** Finds the TCP payload of an IPv4 or IPv6 packet (first fragments only), bounds-checked. */
import type { Packet } from 'specter/plugin';

export interface Segment {
  dport: number;
  start: number;
  end: number;
}

export function tcpPayload(pkt: Packet, out: Segment): boolean {
  const b = pkt.buf;
  const off = pkt.payloadOff;
  const end = off + pkt.payloadLen;
  if (pkt.payloadLen < 20) return false;
  let tcp: number;
  const version = b[off] >> 4;
  if (version === 4) {
    const ihl = b[off] & 15;
    // Below 5 words the "TCP header" would overlap the IP header: malformed, not a login.
    if (ihl < 5 || b[off + 9] !== 6 || (b.readUInt16BE(off + 6) & 0x1fff) !== 0) return false;
    tcp = off + ihl * 4;
  } else if (version === 6) {
    if (pkt.payloadLen < 40 || b[off + 6] !== 6) return false;
    tcp = off + 40;
  } else {
    return false;
  }
  if (tcp + 20 > end) return false;
  const start = tcp + (b[tcp + 12] >> 4) * 4;
  if (start > end) return false;
  out.dport = b.readUInt16BE(tcp + 2);
  out.start = start;
  out.end = end;
  return true;
}
