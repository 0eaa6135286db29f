/**
 * The fields of a packet's network and transport headers (ip.*, ip6.*, tcp.*,
 * udp.*, icmp.*, icmpv6.*, sctp.*, ahesp.*, arp.*), read from the packet
 * bytes alone. BASE reads them on the machine that logged the packet; a
 * collector reads them from a forwarded raw.pkt, so a sensor need not send
 * them. Reads are bounds-checked: a truncated or garbage packet sets what it
 * can and never throws.
 */
import { ipv4ToString, ipv6ToString, copyBytes, LastBytes, type Record, u16be, u32be } from 'specter/plugin';
import { BASE_KEYS, K } from './keys.js';

export const ETH_P_IP = 0x0800;
export const ETH_P_IPV6 = 0x86dd;
export const ETH_P_ARP = 0x0806;

/** Prefixes of the keys PacketLayers sets: everything read from raw.pkt. */
const LAYER_PREFIXES = ['ip.', 'ip6.', 'tcp.', 'udp.', 'icmp.', 'icmpv6.', 'sctp.', 'ahesp.', 'arp.'];

/** True for a key PacketLayers sets from the packet bytes. */
export function isLayerKey(name: string): boolean {
  return LAYER_PREFIXES.some((p) => name.startsWith(p));
}

/** The network protocol of a payload as an ethertype, from the NFLOG family and link-layer protocol (-1: none). */
export function networkProtocol(family: number, hwProtocol: number): number {
  switch (family) {
    case 2:
      return ETH_P_IP;
    case 10:
      return ETH_P_IPV6;
    case 3:
      return ETH_P_ARP;
    default:
      return hwProtocol;
  }
}

export class PacketLayers {
  /** True when some layer key is read: otherwise decode() has nothing to do. */
  readonly needed: boolean;
  private readonly needIp: boolean;
  private readonly needTcp: boolean;
  private readonly needUdp: boolean;
  private readonly needIcmp: boolean;
  private readonly needIcmp6: boolean;
  private readonly needSctp: boolean;
  private readonly needAhEsp: boolean;
  private readonly needArp: boolean;
  // IPv6 addresses repeat from packet to packet: made once while they do.
  private readonly ip6S = new LastBytes(copyBytes);
  private readonly ip6D = new LastBytes(copyBytes);
  private readonly ip6SStr = new LastBytes((b, start, end) => ipv6ToString(b.subarray(start, end)));
  private readonly ip6DStr = new LastBytes((b, start, end) => ipv6ToString(b.subarray(start, end)));

  /** `s`: the record slot of each key of BASE_KEYS by its index (K), -1 when nobody reads it. */
  constructor(private readonly s: Int32Array) {
    const anyOf = (prefix: string) => BASE_KEYS.some((k, i) => s[i] >= 0 && k.name.startsWith(prefix));
    this.needTcp = anyOf('tcp.');
    this.needUdp = anyOf('udp.');
    this.needIcmp = anyOf('icmp.');
    this.needIcmp6 = anyOf('icmpv6.');
    this.needSctp = anyOf('sctp.');
    this.needAhEsp = anyOf('ahesp.');
    this.needArp = anyOf('arp.');
    this.needIp = anyOf('ip.') || anyOf('ip6.') || this.needTcp || this.needUdp || this.needIcmp || this.needIcmp6 || this.needSctp || this.needAhEsp;
    this.needed = this.needIp || this.needArp;
  }

  /** Sets the layer keys of the packet in buf[off, end), whose network protocol is `l3` (an ethertype). */
  decode(buf: Buffer, off: number, end: number, l3: number, rec: Record): void {
    if (l3 === ETH_P_IP) {
      if (this.needIp) this.ipv4(buf, off, end, rec);
    } else if (l3 === ETH_P_IPV6) {
      if (this.needIp) this.ipv6(buf, off, end, rec);
    } else if (l3 === ETH_P_ARP && this.needArp) this.arp(buf, off, end, rec);
  }

  private ipv4(buf: Buffer, off: number, end: number, rec: Record): void {
    if (off + 20 > end || buf[off] >> 4 !== 4) return;
    const s = this.s;
    let i: number;
    const ihl = buf[off] & 15;
    const saddr = u32be(buf, off + 12);
    const daddr = u32be(buf, off + 16);
    const proto = buf[off + 9];
    const frag = u16be(buf, off + 6);
    if ((i = s[K.IP_SADDR]) >= 0) rec.setSlot(i, saddr);
    if ((i = s[K.IP_DADDR]) >= 0) rec.setSlot(i, daddr);
    if ((i = s[K.IP_SADDR_STR]) >= 0) rec.setSlot(i, ipv4ToString(saddr));
    if ((i = s[K.IP_DADDR_STR]) >= 0) rec.setSlot(i, ipv4ToString(daddr));
    if ((i = s[K.IP_PROTOCOL]) >= 0) rec.setSlot(i, proto);
    if ((i = s[K.IP_TOS]) >= 0) rec.setSlot(i, buf[off + 1]);
    if ((i = s[K.IP_TTL]) >= 0) rec.setSlot(i, buf[off + 8]);
    if ((i = s[K.IP_TOTLEN]) >= 0) rec.setSlot(i, u16be(buf, off + 2));
    if ((i = s[K.IP_IHL]) >= 0) rec.setSlot(i, ihl);
    if ((i = s[K.IP_CSUM]) >= 0) rec.setSlot(i, u16be(buf, off + 10));
    if ((i = s[K.IP_ID]) >= 0) rec.setSlot(i, u16be(buf, off + 4));
    if ((i = s[K.IP_FRAGOFF]) >= 0) rec.setSlot(i, frag);
    if ((frag & 0x1fff) !== 0 || ihl < 5) return; // later fragment: no transport header here
    this.transport(buf, off + ihl * 4, end, proto, false, rec);
  }

  private ipv6(buf: Buffer, off: number, end: number, rec: Record): void {
    if (off + 40 > end || buf[off] >> 4 !== 6) return;
    const s = this.s;
    let i: number;
    if ((i = s[K.IP_SADDR]) >= 0) rec.setSlot(i, this.ip6S.get(buf, off + 8, off + 24));
    if ((i = s[K.IP_DADDR]) >= 0) rec.setSlot(i, this.ip6D.get(buf, off + 24, off + 40));
    if ((i = s[K.IP_SADDR_STR]) >= 0) rec.setSlot(i, this.ip6SStr.get(buf, off + 8, off + 24));
    if ((i = s[K.IP_DADDR_STR]) >= 0) rec.setSlot(i, this.ip6DStr.get(buf, off + 24, off + 40));
    const word = u32be(buf, off);
    if ((i = s[K.IP6_PRIORITY]) >= 0) rec.setSlot(i, (word >>> 20) & 0xff);
    if ((i = s[K.IP6_FLOWLABEL]) >= 0) rec.setSlot(i, word & 0xfffff);
    if ((i = s[K.IP6_PAYLOADLEN]) >= 0) rec.setSlot(i, u16be(buf, off + 4));
    if ((i = s[K.IP6_HOPLIMIT]) >= 0) rec.setSlot(i, buf[off + 7]);
    let nh = buf[off + 6];
    if ((i = s[K.IP6_NEXTHDR]) >= 0) rec.setSlot(i, nh);
    let p = off + 40;
    let later = false;
    // Walk the extension headers to the upper-layer protocol.
    for (;;) {
      if (nh === 0 || nh === 43 || nh === 60) {
        if (p + 8 > end) return;
        nh = buf[p];
        p += (buf[p + 1] + 1) * 8;
      } else if (nh === 44) {
        if (p + 8 > end) return;
        const fo = u16be(buf, p + 2);
        if ((i = s[K.IP6_FRAGOFF]) >= 0) rec.setSlot(i, fo);
        if ((i = s[K.IP6_FRAGID]) >= 0) rec.setSlot(i, u32be(buf, p + 4));
        if ((fo & 0xfff8) !== 0) later = true;
        nh = buf[p];
        p += 8;
      } else if (nh === 51) {
        if (p + 8 > end) return;
        if ((i = s[K.AHESP_SPI]) >= 0) rec.setSlot(i, u32be(buf, p + 4));
        nh = buf[p];
        p += (buf[p + 1] + 2) * 4;
      } else {
        break;
      }
    }
    if ((i = s[K.IP_PROTOCOL]) >= 0) rec.setSlot(i, nh);
    if (!later) this.transport(buf, p, end, nh, true, rec);
  }

  private transport(buf: Buffer, p: number, end: number, proto: number, v6: boolean, rec: Record): void {
    const s = this.s;
    let i: number;
    switch (proto) {
      case 6: {
        if (!this.needTcp || p + 20 > end) return;
        const doff = buf[p + 12] >> 4;
        const flags = buf[p + 13];
        if ((i = s[K.TCP_SPORT]) >= 0) rec.setSlot(i, u16be(buf, p));
        if ((i = s[K.TCP_DPORT]) >= 0) rec.setSlot(i, u16be(buf, p + 2));
        if ((i = s[K.TCP_SEQ]) >= 0) rec.setSlot(i, u32be(buf, p + 4));
        if ((i = s[K.TCP_ACKSEQ]) >= 0) rec.setSlot(i, u32be(buf, p + 8));
        if ((i = s[K.TCP_OFFSET]) >= 0) rec.setSlot(i, doff);
        // RES= as the kernel prints it since accurate ECN: the three reserved bits, AE (0x01000000) apart.
        if ((i = s[K.TCP_RESERVED]) >= 0) rec.setSlot(i, (buf[p + 12] & 0x0e) << 2);
        if ((i = s[K.TCP_WINDOW]) >= 0) rec.setSlot(i, u16be(buf, p + 14));
        if ((i = s[K.TCP_CSUM]) >= 0) rec.setSlot(i, u16be(buf, p + 16));
        if ((i = s[K.TCP_URGP]) >= 0) rec.setSlot(i, u16be(buf, p + 18));
        if ((i = s[K.TCP_FIN]) >= 0) rec.setSlot(i, (flags & 0x01) !== 0);
        if ((i = s[K.TCP_SYN]) >= 0) rec.setSlot(i, (flags & 0x02) !== 0);
        if ((i = s[K.TCP_RST]) >= 0) rec.setSlot(i, (flags & 0x04) !== 0);
        if ((i = s[K.TCP_PSH]) >= 0) rec.setSlot(i, (flags & 0x08) !== 0);
        if ((i = s[K.TCP_ACK]) >= 0) rec.setSlot(i, (flags & 0x10) !== 0);
        if ((i = s[K.TCP_URG]) >= 0) rec.setSlot(i, (flags & 0x20) !== 0);
        if ((i = s[K.TCP_ECE]) >= 0) rec.setSlot(i, (flags & 0x40) !== 0);
        if ((i = s[K.TCP_CWR]) >= 0) rec.setSlot(i, (flags & 0x80) !== 0);
        if ((i = s[K.TCP_AE]) >= 0) rec.setSlot(i, (buf[p + 12] & 0x01) !== 0);
        if ((i = s[K.TCP_OPTIONS]) >= 0 && doff > 5 && p + doff * 4 <= end) rec.setSlot(i, buf.subarray(p + 20, p + doff * 4));
        return;
      }
      case 17:
      case 136: // UDP-Lite has the same header
        if (!this.needUdp || p + 8 > end) return;
        if ((i = s[K.UDP_SPORT]) >= 0) rec.setSlot(i, u16be(buf, p));
        if ((i = s[K.UDP_DPORT]) >= 0) rec.setSlot(i, u16be(buf, p + 2));
        if ((i = s[K.UDP_LEN]) >= 0) rec.setSlot(i, u16be(buf, p + 4));
        if ((i = s[K.UDP_CSUM]) >= 0) rec.setSlot(i, u16be(buf, p + 6));
        return;
      case 1: {
        if (v6 || !this.needIcmp || p + 4 > end) return;
        const type = buf[p];
        const code = buf[p + 1];
        if ((i = s[K.ICMP_TYPE]) >= 0) rec.setSlot(i, type);
        if ((i = s[K.ICMP_CODE]) >= 0) rec.setSlot(i, code);
        if ((i = s[K.ICMP_CSUM]) >= 0) rec.setSlot(i, u16be(buf, p + 2));
        if (p + 8 > end) return;
        if (type === 0 || type === 8) {
          if ((i = s[K.ICMP_ECHOID]) >= 0) rec.setSlot(i, u16be(buf, p + 4));
          if ((i = s[K.ICMP_ECHOSEQ]) >= 0) rec.setSlot(i, u16be(buf, p + 6));
        } else if (type === 5) {
          if ((i = s[K.ICMP_GATEWAY]) >= 0) rec.setSlot(i, u32be(buf, p + 4));
        } else if (type === 3 && code === 4) {
          if ((i = s[K.ICMP_FRAGMTU]) >= 0) rec.setSlot(i, u16be(buf, p + 6));
        }
        return;
      }
      case 58: {
        if (!v6 || !this.needIcmp6 || p + 4 > end) return;
        const type = buf[p];
        if ((i = s[K.ICMPV6_TYPE]) >= 0) rec.setSlot(i, type);
        if ((i = s[K.ICMPV6_CODE]) >= 0) rec.setSlot(i, buf[p + 1]);
        if ((i = s[K.ICMPV6_CSUM]) >= 0) rec.setSlot(i, u16be(buf, p + 2));
        if ((type === 128 || type === 129) && p + 8 <= end) {
          if ((i = s[K.ICMPV6_ECHOID]) >= 0) rec.setSlot(i, u16be(buf, p + 4));
          if ((i = s[K.ICMPV6_ECHOSEQ]) >= 0) rec.setSlot(i, u16be(buf, p + 6));
        }
        return;
      }
      case 132:
        if (!this.needSctp || p + 12 > end) return;
        if ((i = s[K.SCTP_SPORT]) >= 0) rec.setSlot(i, u16be(buf, p));
        if ((i = s[K.SCTP_DPORT]) >= 0) rec.setSlot(i, u16be(buf, p + 2));
        if ((i = s[K.SCTP_CSUM]) >= 0) rec.setSlot(i, u32be(buf, p + 8));
        return;
      case 50:
        if ((i = s[K.AHESP_SPI]) >= 0 && p + 4 <= end) rec.setSlot(i, u32be(buf, p));
        return;
      case 51:
        if ((i = s[K.AHESP_SPI]) >= 0 && p + 8 <= end) rec.setSlot(i, u32be(buf, p + 4));
        return;
      default:
    }
  }

  private arp(buf: Buffer, off: number, end: number, rec: Record): void {
    if (off + 8 > end) return;
    const s = this.s;
    let i: number;
    if ((i = s[K.ARP_HWTYPE]) >= 0) rec.setSlot(i, u16be(buf, off));
    if ((i = s[K.ARP_PROTOCOLTYPE]) >= 0) rec.setSlot(i, u16be(buf, off + 2));
    if ((i = s[K.ARP_OPERATION]) >= 0) rec.setSlot(i, u16be(buf, off + 6));
    const hlen = buf[off + 4];
    const plen = buf[off + 5];
    if (off + 8 + 2 * (hlen + plen) > end) return;
    const sha = off + 8;
    const spa = sha + hlen;
    const tha = spa + plen;
    const tpa = tha + hlen;
    if ((i = s[K.ARP_SHWADDR]) >= 0) rec.setSlot(i, buf.subarray(sha, sha + hlen));
    if ((i = s[K.ARP_DHWADDR]) >= 0) rec.setSlot(i, buf.subarray(tha, tha + hlen));
    if (plen !== 4) return;
    const sa = u32be(buf, spa);
    const ta = u32be(buf, tpa);
    if ((i = s[K.ARP_SADDR]) >= 0) rec.setSlot(i, sa);
    if ((i = s[K.ARP_DADDR]) >= 0) rec.setSlot(i, ta);
    if ((i = s[K.ARP_SADDR_STR]) >= 0) rec.setSlot(i, ipv4ToString(sa));
    if ((i = s[K.ARP_DADDR_STR]) >= 0) rec.setSlot(i, ipv4ToString(ta));
  }
}
