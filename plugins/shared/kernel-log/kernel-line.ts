/**
 * The packet part of the kernel LOG target's line (net/netfilter/nf_log_syslog.c
 * with default log flags), built from the packet bytes the way the kernel
 * builds it: "SRC=... DST=... LEN=... PROTO=TCP SPT=... ". ICMP errors carry
 * the offending packet in brackets, as the kernel prints them.
 */

const HEX2 = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const HEX2U = HEX2.map((h) => h.toUpperCase());

function ip4(buf: Uint8Array, o: number): string {
  return `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
}

/** %pI6: eight groups of four hex digits, never compressed. */
function ip6(buf: Uint8Array, o: number): string {
  let s = HEX2[buf[o]] + HEX2[buf[o + 1]];
  for (let i = 2; i < 16; i += 2) s += ':' + HEX2[buf[o + i]] + HEX2[buf[o + i + 1]];
  return s;
}

/** What the kernel prints for a header cut short; a header that starts past the captured bytes has 0 of them. */
const incomplete = (p: number, end: number) => `INCOMPLETE [${p < end ? end - p : 0} bytes] `;

const u16 = (b: Uint8Array, o: number) => (b[o] << 8) | b[o + 1];
const u32 = (b: Uint8Array, o: number) => ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;

/** IPv4 packet at `off` (end = end of captured bytes); `outer` false for the copy inside an ICMP error. */
export function ipv4Line(b: Uint8Array, off: number, end: number, outer: boolean): string {
  if (off + 20 > end) return 'TRUNCATED';
  const ihl = (b[off] & 15) * 4;
  const tos = b[off + 1];
  const frag = u16(b, off + 6);
  const proto = b[off + 9];
  let s = `SRC=${ip4(b, off + 12)} DST=${ip4(b, off + 16)} LEN=${u16(b, off + 2)} TOS=0x${HEX2U[tos & 0x1e]} PREC=0x${HEX2U[tos & 0xe0]} TTL=${b[off + 8]} ID=${u16(b, off + 4)} `;
  if (frag & 0x8000) s += 'CE ';
  if (frag & 0x4000) s += 'DF ';
  if (frag & 0x2000) s += 'MF ';
  const offset = frag & 0x1fff;
  if (offset) s += `FRAG:${offset} `;
  const p = off + ihl;
  switch (proto) {
    case 6:
      return s + tcp(b, p, end, offset !== 0);
    case 17:
    case 136:
      return s + udp(b, p, end, offset !== 0, proto);
    case 1: {
      s += 'PROTO=ICMP ';
      if (offset) return s;
      if (p + 4 > end) return s + incomplete(p, end);
      const type = b[p];
      const code = b[p + 1];
      s += `TYPE=${type} CODE=${code} `;
      if (p + 8 > end) return s;
      switch (type) {
        case 0:
        case 8:
          return s + `ID=${u16(b, p + 4)} SEQ=${u16(b, p + 6)} `;
        case 12:
          return s + `PARAMETER=${b[p + 4]} `;
        case 3:
        case 4:
        case 5:
        case 11:
          if (type === 5) s += `GATEWAY=${ip4(b, p + 4)} `;
          if (outer) s += '[' + ipv4Line(b, p + 8, end, false) + '] ';
          if (type === 3 && code === 4) s += `MTU=${u16(b, p + 6)} `;
          return s;
        default:
          return s;
      }
    }
    case 51:
      s += 'PROTO=AH ';
      if (offset) return s;
      if (p + 8 > end) return s + incomplete(p, end);
      return s + `SPI=0x${u32(b, p + 4).toString(16)} `;
    case 50:
      s += 'PROTO=ESP ';
      if (offset) return s;
      if (p + 4 > end) return s + incomplete(p, end);
      return s + `SPI=0x${u32(b, p).toString(16)} `;
    default:
      return s + `PROTO=${proto} `;
  }
}

/** IPv6 packet at `off`, walking extension headers as the kernel does. */
export function ipv6Line(b: Uint8Array, off: number, end: number, outer: boolean): string {
  if (off + 40 > end) return 'TRUNCATED';
  const w = u32(b, off);
  let s = `SRC=${ip6(b, off + 8)} DST=${ip6(b, off + 24)} LEN=${u16(b, off + 4) + 40} TC=${(w >>> 20) & 0xff} HOPLIMIT=${b[off + 7]} FLOWLBL=${w & 0xfffff} `;
  let nh = b[off + 6];
  let p = off + 40;
  let fragment = false;
  while (nh !== 59 && (nh === 0 || nh === 43 || nh === 44 || nh === 50 || nh === 51 || nh === 60)) {
    if (p + 2 > end) return s + 'TRUNCATED';
    let hdrlen: number;
    if (nh === 44) {
      s += 'FRAG:';
      if (p + 8 > end) return s + 'TRUNCATED ';
      const fo = u16(b, p + 2);
      s += `${fo & 0xfff8} `;
      if (fo & 1) s += 'INCOMPLETE ';
      s += `ID:${u32(b, p + 4)
        .toString(16)
        .padStart(8, '0')} `;
      if (fo & 0xfff8) fragment = true;
      hdrlen = 8;
    } else if (nh === 0 || nh === 43 || nh === 60) {
      if (fragment) return s;
      hdrlen = (b[p + 1] + 1) * 8;
    } else if (nh === 51) {
      hdrlen = (b[p + 1] + 2) * 4;
    } else {
      return s; // ESP: nothing readable follows
    }
    nh = b[p];
    p += hdrlen;
  }
  switch (nh) {
    case 6:
      return s + tcp(b, p, end, fragment);
    case 17:
    case 136:
      return s + udp(b, p, end, fragment, nh);
    case 58: {
      s += 'PROTO=ICMPv6 ';
      if (fragment) return s;
      if (p + 8 > end) return s + incomplete(p, end);
      const type = b[p];
      s += `TYPE=${type} CODE=${b[p + 1]} `;
      switch (type) {
        case 128:
        case 129:
          return s + `ID=${u16(b, p + 4)} SEQ=${u16(b, p + 6)} `;
        case 1:
        case 2:
        case 3:
        case 4:
          if (type === 4)
            s += `POINTER=${u32(b, p + 4)
              .toString(16)
              .padStart(8, '0')} `;
          if (outer) s += '[' + ipv6Line(b, p + 8, end, false) + '] ';
          if (type === 2) s += `MTU=${u32(b, p + 4)} `;
          return s;
        default:
          return s;
      }
    }
    default:
      return s + `PROTO=${nh} `;
  }
}

function tcp(b: Uint8Array, p: number, end: number, fragment: boolean): string {
  if (fragment) return 'PROTO=TCP ';
  if (p + 20 > end) return 'PROTO=TCP ' + incomplete(p, end);
  const f = b[p + 13];
  // Kernels with accurate ECN (this 6.18 one) print AE as a flag and leave it out of RES=.
  const res = b[p + 12] & 0x0f;
  let s = `PROTO=TCP SPT=${u16(b, p)} DPT=${u16(b, p + 2)} WINDOW=${u16(b, p + 14)} RES=0x${HEX2[(res & 0x0e) << 2]} `;
  if (res & 0x01) s += 'AE ';
  if (f & 0x80) s += 'CWR ';
  if (f & 0x40) s += 'ECE ';
  if (f & 0x20) s += 'URG ';
  if (f & 0x10) s += 'ACK ';
  if (f & 0x08) s += 'PSH ';
  if (f & 0x04) s += 'RST ';
  if (f & 0x02) s += 'SYN ';
  if (f & 0x01) s += 'FIN ';
  return s + `URGP=${u16(b, p + 18)} `;
}

function udp(b: Uint8Array, p: number, end: number, fragment: boolean, proto: number): string {
  const s = proto === 17 ? 'PROTO=UDP ' : 'PROTO=UDPLITE ';
  if (fragment) return s;
  if (p + 8 > end) return s + incomplete(p, end);
  return s + `SPT=${u16(b, p)} DPT=${u16(b, p + 2)} LEN=${u16(b, p + 4)} `;
}
