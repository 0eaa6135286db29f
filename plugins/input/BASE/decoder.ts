/**
 * Per-packet decoding for BASE. Every key's slot is looked up once at
 * start-up (-1 when nobody reads it); whole layers are skipped when none of
 * their keys is read. Reads are bounds-checked against the captured bytes:
 * a truncated or garbage packet sets what it can and never throws.
 */
import { u16be, u32be, type Key, ipv4ToString, ipv6ToString, macToString, type Packet, type Record, copyBytes, LastBytes } from 'specter/plugin';
import { IfNames } from './ifnames.js';
import { K } from './keys.js';
import { WallClock } from './wall-clock.js';

type Want = (name: string) => Key | null;

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const ETH_P_ARP = 0x0806;

export class BaseDecoder {
  private readonly ifnames: IfNames | null;
  // one slot field per key, -1 = not read
  private readonly s: Int32Array;
  private readonly anyOf: (prefix: string) => boolean;
  private readonly needIp: boolean;
  private readonly needTcp: boolean;
  private readonly needUdp: boolean;
  private readonly needIcmp: boolean;
  private readonly needIcmp6: boolean;
  private readonly needSctp: boolean;
  private readonly needAhEsp: boolean;
  private readonly needArp: boolean;
  private readonly needMac: boolean;
  // Link-layer values and IPv6 addresses repeat from packet to packet: made once while they do.
  private readonly rawMac = new LastBytes(copyBytes);
  private readonly macD = new LastBytes(copyBytes);
  private readonly macS = new LastBytes(copyBytes);
  private readonly macStr = new LastBytes(macToString);
  private readonly macDStr = new LastBytes(macToString);
  private readonly macSStr = new LastBytes(macToString);
  private readonly ip6S = new LastBytes(copyBytes);
  private readonly ip6D = new LastBytes(copyBytes);
  private readonly ip6SStr = new LastBytes((b, start, end) => ipv6ToString(b.subarray(start, end)));
  private readonly ip6DStr = new LastBytes((b, start, end) => ipv6ToString(b.subarray(start, end)));
  // Time for packets the kernel sent without one (output hook).
  private readonly clock = new WallClock();

  /** `names` must be BASE_KEYS' names in order (K indexes them). */
  constructor(names: readonly string[], want: Want) {
    const wanted: string[] = [];
    this.s = new Int32Array(names.length);
    names.forEach((n, idx) => {
      const k = want(n);
      this.s[idx] = k ? k.slot : -1;
      if (k) wanted.push(n);
    });
    this.anyOf = (prefix) => wanted.some((n) => n.startsWith(prefix));
    this.needTcp = this.anyOf('tcp.');
    this.needUdp = this.anyOf('udp.');
    this.needIcmp = this.anyOf('icmp.');
    this.needIcmp6 = this.anyOf('icmpv6.');
    this.needSctp = this.anyOf('sctp.');
    this.needAhEsp = this.anyOf('ahesp.');
    this.needArp = this.anyOf('arp.');
    this.needMac = this.anyOf('mac.');
    this.needIp = this.anyOf('ip.') || this.anyOf('ip6.') || this.needTcp || this.needUdp || this.needIcmp || this.needIcmp6 || this.needSctp || this.needAhEsp;
    const needNames = [K.OOB_IN, K.OOB_OUT, K.OOB_PHYSIN, K.OOB_PHYSOUT].some((idx) => this.s[idx] >= 0);
    this.ifnames = needNames ? new IfNames() : null;
  }

  process(pkt: Packet, rec: Record): void {
    const s = this.s;
    const buf = pkt.buf;
    let i: number;
    if ((i = s[K.OOB_PREFIX]) >= 0) rec.setSlot(i, pkt.prefix());
    if ((i = s[K.OOB_TIME_SEC]) >= 0 || s[K.OOB_TIME_USEC] >= 0) {
      let sec = pkt.tsSec;
      let usec = pkt.tsUsec;
      if (sec < 0) {
        const now = this.clock.now();
        sec = Math.floor(now / 1e6);
        usec = now - sec * 1e6;
      }
      if (i >= 0) rec.setSlot(i, sec);
      if ((i = s[K.OOB_TIME_USEC]) >= 0) rec.setSlot(i, usec);
    }
    if ((i = s[K.OOB_MARK]) >= 0 && pkt.mark >= 0) rec.setSlot(i, pkt.mark);
    if ((i = s[K.OOB_IFINDEX_IN]) >= 0 && pkt.indev >= 0) rec.setSlot(i, pkt.indev);
    if ((i = s[K.OOB_IFINDEX_OUT]) >= 0 && pkt.outdev >= 0) rec.setSlot(i, pkt.outdev);
    if (this.ifnames) {
      if ((i = s[K.OOB_IN]) >= 0) rec.setSlot(i, this.ifnames.name(pkt.indev));
      if ((i = s[K.OOB_OUT]) >= 0) rec.setSlot(i, this.ifnames.name(pkt.outdev));
      // Bridge ports exist only for bridged packets: absent otherwise, as the kernel sends them.
      if ((i = s[K.OOB_PHYSIN]) >= 0 && pkt.physindev > 0) rec.setSlot(i, this.ifnames.name(pkt.physindev));
      if ((i = s[K.OOB_PHYSOUT]) >= 0 && pkt.physoutdev > 0) rec.setSlot(i, this.ifnames.name(pkt.physoutdev));
    }
    if ((i = s[K.OOB_HOOK]) >= 0 && pkt.hook >= 0) rec.setSlot(i, pkt.hook);
    if ((i = s[K.OOB_FAMILY]) >= 0) rec.setSlot(i, pkt.family);
    if ((i = s[K.OOB_PROTOCOL]) >= 0 && pkt.hwProtocol >= 0) rec.setSlot(i, pkt.hwProtocol);
    if ((i = s[K.OOB_UID]) >= 0 && pkt.uid >= 0) rec.setSlot(i, pkt.uid);
    if ((i = s[K.OOB_GID]) >= 0 && pkt.gid >= 0) rec.setSlot(i, pkt.gid);
    if ((i = s[K.OOB_SEQ_LOCAL]) >= 0 && pkt.seqLocal >= 0) rec.setSlot(i, pkt.seqLocal);
    if ((i = s[K.OOB_SEQ_GLOBAL]) >= 0 && pkt.seqGlobal >= 0) rec.setSlot(i, pkt.seqGlobal);
    if ((i = s[K.OOB_VLAN]) >= 0 && pkt.vlanTci >= 0) rec.setSlot(i, pkt.vlanTci & 0x0fff);
    if ((i = s[K.RAW_TYPE]) >= 0 && pkt.hwType >= 0) rec.setSlot(i, pkt.hwType);
    if (pkt.hwHeaderLen >= 0) {
      if ((i = s[K.RAW_MAC]) >= 0) rec.setSlot(i, this.rawMac.get(buf, pkt.hwHeaderOff, pkt.hwHeaderOff + pkt.hwHeaderLen));
      if ((i = s[K.RAW_MAC_LEN]) >= 0) rec.setSlot(i, pkt.hwHeaderLen);
    }
    if (this.needMac) this.mac(pkt, rec);
    if (pkt.payloadLen > 0) {
      if ((i = s[K.RAW_PKT]) >= 0) rec.setSlot(i, buf.subarray(pkt.payloadOff, pkt.payloadOff + pkt.payloadLen));
      if ((i = s[K.RAW_PKTLEN]) >= 0) rec.setSlot(i, pkt.payloadLen);
    } else {
      return;
    }
    const l3 = networkProtocol(pkt);
    if (l3 === ETH_P_IP) {
      if (this.needIp) this.ipv4(buf, pkt.payloadOff, pkt.payloadOff + pkt.payloadLen, rec);
    } else if (l3 === ETH_P_IPV6) {
      if (this.needIp) this.ipv6(buf, pkt.payloadOff, pkt.payloadOff + pkt.payloadLen, rec);
    } else if (l3 === ETH_P_ARP && this.needArp) this.arp(buf, pkt.payloadOff, pkt.payloadOff + pkt.payloadLen, rec);
  }

  private mac(pkt: Packet, rec: Record): void {
    const s = this.s;
    const buf = pkt.buf;
    let i: number;
    const h = pkt.hwHeaderOff;
    if (pkt.hwHeaderLen > 0 && (i = s[K.MAC_STR]) >= 0) rec.setSlot(i, this.macStr.get(buf, h, h + pkt.hwHeaderLen));
    if (pkt.hwHeaderLen === 14) {
      if ((i = s[K.MAC_DADDR]) >= 0) rec.setSlot(i, this.macD.get(buf, h, h + 6));
      if ((i = s[K.MAC_SADDR]) >= 0) rec.setSlot(i, this.macS.get(buf, h + 6, h + 12));
      if ((i = s[K.MAC_DADDR_STR]) >= 0) rec.setSlot(i, this.macDStr.get(buf, h, h + 6));
      if ((i = s[K.MAC_SADDR_STR]) >= 0) rec.setSlot(i, this.macSStr.get(buf, h + 6, h + 12));
    } else if (pkt.hwAddrLen > 0) {
      const a = pkt.hwAddrOff;
      if ((i = s[K.MAC_SADDR]) >= 0) rec.setSlot(i, this.macS.get(buf, a, a + pkt.hwAddrLen));
      if ((i = s[K.MAC_SADDR_STR]) >= 0) rec.setSlot(i, this.macSStr.get(buf, a, a + pkt.hwAddrLen));
    }
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

/** The network protocol of the payload, as an ethertype. */
function networkProtocol(pkt: Packet): number {
  switch (pkt.family) {
    case 2:
      return ETH_P_IP;
    case 10:
      return ETH_P_IPV6;
    case 3:
      return ETH_P_ARP;
    default:
      return pkt.hwProtocol;
  }
}
