/**
 * Seed inputs of the nfnetlink_log fuzz test: IP and ARP packets built field
 * by field (each remembering where its length and protocol fields are, so
 * mutations can set them to boundary values), and the nfnetlink_log
 * attribute sets that wrap them into datagrams as the kernel sends them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { NFULA, NFULA_VLAN_PROTO, NFULA_VLAN_TCI } from '../../src/nflog/constants.js';
import { ROOT } from '../daemon.js';

/** How a mutation may set a field: 16-bit length, 8-bit length, protocol number, or a 4-bit half. */
export type FieldKind = 'len16' | 'len8' | 'proto' | 'lo4' | 'hi4';

export interface Field {
  off: number;
  kind: FieldKind;
}

export interface Built {
  bytes: Buffer;
  fields: Field[];
}

const built = (bytes: Buffer, fields: Field[] = []): Built => ({ bytes, fields });

/** `outer` with `inner` appended at its end; the inner fields shift by the outer length. */
function wrap(outer: Buffer, outerFields: Field[], inner: Built): Built {
  return built(Buffer.concat([outer, inner.bytes]), [...outerFields, ...inner.fields.map((f) => ({ off: f.off + outer.length, kind: f.kind }))]);
}

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

// --- transport headers -------------------------------------------------------

export function tcp(dport: number, flags: number, options = Buffer.alloc(0), payload = Buffer.alloc(0), ae = false): Built {
  const b = Buffer.alloc(20 + options.length + payload.length);
  b.writeUInt16BE(40000, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt32BE(0x01020304, 4);
  b.writeUInt32BE(0x0a0b0c0d, 8);
  b[12] = (((20 + options.length) / 4) << 4) | (ae ? 1 : 0);
  b[13] = flags;
  b.writeUInt16BE(64240, 14);
  b.writeUInt16BE(0xbeef, 16);
  b.writeUInt16BE(flags & 0x20 ? 7 : 0, 18);
  options.copy(b, 20);
  payload.copy(b, 20 + options.length);
  return built(b, [{ off: 12, kind: 'hi4' }]);
}

export function udp(dport: number, payload = Buffer.alloc(0)): Built {
  const b = Buffer.alloc(8 + payload.length);
  b.writeUInt16BE(5353, 0);
  b.writeUInt16BE(dport, 2);
  b.writeUInt16BE(b.length, 4);
  b.writeUInt16BE(0x1111, 6);
  payload.copy(b, 8);
  return built(b, [{ off: 4, kind: 'len16' }]);
}

/** ICMP or ICMPv6 header: type, code, four rest-of-header bytes, then `body`. */
export function icmp(type: number, code: number, rest: number, body: Built = built(Buffer.alloc(0))): Built {
  const h = Buffer.alloc(8);
  h[0] = type;
  h[1] = code;
  h.writeUInt16BE(0x2222, 2);
  h.writeUInt32BE(rest >>> 0, 4);
  return wrap(h, [], body);
}

export function sctp(): Built {
  // common header and one INIT chunk
  return built(hex('0b5a 0050 00000000 1a2b3c4d  01 00 0014 11223344 0001a000 000a 000a 55667788'), [{ off: 14, kind: 'len16' }]);
}

export function ah(next: number, inner: Built): Built {
  // RFC 4302: next header, payload length in 32-bit words minus 2, reserved, SPI, sequence, 12-byte ICV
  const h = Buffer.alloc(24);
  h[0] = next;
  h[1] = 24 / 4 - 2;
  h.writeUInt32BE(0x00001000, 4);
  h.writeUInt32BE(1, 8);
  return wrap(
    h,
    [
      { off: 0, kind: 'proto' },
      { off: 1, kind: 'len8' },
    ],
    inner,
  );
}

export function esp(): Built {
  return built(hex('00002000 00000001 deadbeefcafebabe0011223344556677'));
}

// --- network headers ---------------------------------------------------------

export interface Ipv4Options {
  options?: Buffer;
  frag?: number;
  tos?: number;
  src?: number;
}

export function ipv4(proto: number, l4: Built, o: Ipv4Options = {}): Built {
  const opts = o.options ?? Buffer.alloc(0);
  const h = Buffer.alloc(20 + opts.length);
  h[0] = 0x40 | (h.length / 4);
  h[1] = o.tos ?? 0;
  h.writeUInt16BE(h.length + l4.bytes.length, 2);
  h.writeUInt16BE(0x4d2, 4);
  h.writeUInt16BE(o.frag ?? 0x4000, 6);
  h[8] = 64;
  h[9] = proto;
  h.writeUInt16BE(0x3333, 10);
  h.writeUInt32BE(o.src ?? 0xc0a80102, 12);
  h.writeUInt32BE(0xc0a80101, 16);
  opts.copy(h, 20);
  return wrap(
    h,
    [
      { off: 0, kind: 'lo4' },
      { off: 2, kind: 'len16' },
      { off: 9, kind: 'proto' },
    ],
    l4,
  );
}

/** An IPv6 extension header in the 8-octet-unit format (hop-by-hop, routing, destination options). */
export function ext6(next: number, body: Buffer, inner: Built): Built {
  const h = Buffer.alloc(2 + body.length);
  h[0] = next;
  h[1] = h.length / 8 - 1;
  body.copy(h, 2);
  return wrap(
    h,
    [
      { off: 0, kind: 'proto' },
      { off: 1, kind: 'len8' },
    ],
    inner,
  );
}

export function frag6(next: number, offsetField: number, inner: Built): Built {
  const h = Buffer.alloc(8);
  h[0] = next;
  h.writeUInt16BE(offsetField, 2);
  h.writeUInt32BE(0xabcdef01, 4);
  return wrap(h, [{ off: 0, kind: 'proto' }], inner);
}

export function ipv6(next: number, rest: Built, tc = 0): Built {
  const h = Buffer.alloc(40);
  h.writeUInt32BE((0x6 << 28) | (tc << 20) | 0x12345, 0);
  h.writeUInt16BE(rest.bytes.length, 4);
  h[6] = next;
  h[7] = 64;
  hex('20010db8000000000000000000000001').copy(h, 8);
  hex('20010db8000000000000000000000002').copy(h, 24);
  return wrap(
    h,
    [
      { off: 4, kind: 'len16' },
      { off: 6, kind: 'proto' },
    ],
    rest,
  );
}

export function arp(op: number): Built {
  return built(hex(`0001 0800 06 04 000${op} 020000000001 c0a80102 ${op === 1 ? '000000000000' : '020000000002'} c0a80101`), [
    { off: 4, kind: 'len8' },
    { off: 5, kind: 'len8' },
  ]);
}

const NOPS = (n: number) => Buffer.alloc(n, 1);

/** Every seed packet, with the nfgenmsg families it is logged under. */
export function seedPackets(): Array<{ name: string; pkt: Built; families: number[] }> {
  const v4 = [2, 7, 0];
  const v6 = [10, 7];
  const innerUdp4 = ipv4(17, udp(53, Buffer.from('abcd')));
  const innerTcp4 = ipv4(6, tcp(80, 0x02));
  const innerUdp6 = ipv6(17, udp(53, Buffer.from('abcd')));
  const mss = hex('020405b4 0402 080a 00000001 00000000 01 030307');
  const list: Array<{ name: string; pkt: Built; families: number[] }> = [
    { name: 'ipv4 tcp syn with options', pkt: ipv4(6, tcp(22, 0x02, mss)), families: v4 },
    { name: 'ipv4 tcp every flag, AE', pkt: ipv4(6, tcp(443, 0xff, Buffer.alloc(0), Buffer.from('x'), true), { tos: 0xff }), families: v4 },
    { name: 'ipv4 ftp USER', pkt: ipv4(6, tcp(21, 0x18, Buffer.alloc(0), Buffer.from('USER alice\r\n'))), families: v4 },
    { name: 'ipv4 pop3 PASS', pkt: ipv4(6, tcp(110, 0x18, NOPS(4), Buffer.from('PASS s3cret\r\n'))), families: v4 },
    { name: 'ipv4 imap LOGIN', pkt: ipv4(6, tcp(143, 0x18, Buffer.alloc(0), Buffer.from('a1 LOGIN "u \\"x" "p\\\\w"\r\n'))), families: v4 },
    { name: 'ipv4 udp', pkt: ipv4(17, udp(53, Buffer.from('query'))), families: v4 },
    { name: 'ipv4 udplite', pkt: ipv4(136, udp(9, Buffer.from('lite'))), families: v4 },
    { name: 'ipv4 icmp echo', pkt: ipv4(1, icmp(8, 0, 0x00010002, built(Buffer.from('ping data')))), families: v4 },
    { name: 'ipv4 icmp unreachable', pkt: ipv4(1, icmp(3, 3, 0, innerUdp4)), families: v4 },
    { name: 'ipv4 icmp frag needed', pkt: ipv4(1, icmp(3, 4, 1400, innerTcp4)), families: v4 },
    { name: 'ipv4 icmp redirect', pkt: ipv4(1, icmp(5, 1, 0xc0a801fe, innerTcp4)), families: v4 },
    { name: 'ipv4 icmp time exceeded', pkt: ipv4(1, icmp(11, 0, 0, innerUdp4)), families: v4 },
    { name: 'ipv4 icmp parameter problem', pkt: ipv4(1, icmp(12, 0, 0x14000000, innerUdp4)), families: v4 },
    { name: 'ipv4 sctp', pkt: ipv4(132, sctp()), families: v4 },
    { name: 'ipv4 ah over tcp', pkt: ipv4(51, ah(6, tcp(25, 0x10))), families: v4 },
    { name: 'ipv4 esp', pkt: ipv4(50, esp()), families: v4 },
    { name: 'ipv4 options', pkt: ipv4(17, udp(123), { options: hex('0707 04 c0a80101 000000 00000000 0000000000000000 01010100') }), families: v4 },
    { name: 'ipv4 first fragment', pkt: ipv4(17, udp(4789, Buffer.alloc(24, 7)), { frag: 0x2000 }), families: v4 },
    { name: 'ipv4 later fragment', pkt: ipv4(6, built(Buffer.alloc(32, 0x41)), { frag: 0x2000 | 185 }), families: v4 },
    { name: 'ipv4 gre', pkt: ipv4(47, built(hex('00000800 4500'))), families: v4 },
    { name: 'ipv6 tcp', pkt: ipv6(6, tcp(22, 0x12, mss), 0xb8), families: v6 },
    { name: 'ipv6 ftp USER', pkt: ipv6(6, tcp(21, 0x18, Buffer.alloc(0), Buffer.from('USER bob\r\n'))), families: v6 },
    { name: 'ipv6 udp', pkt: ipv6(17, udp(547, Buffer.from('dhcp'))), families: v6 },
    { name: 'ipv6 icmpv6 echo', pkt: ipv6(58, icmp(128, 0, 0x00070008, built(Buffer.from('ping6')))), families: v6 },
    { name: 'ipv6 icmpv6 unreachable', pkt: ipv6(58, icmp(1, 4, 0, innerUdp6)), families: v6 },
    { name: 'ipv6 icmpv6 packet too big', pkt: ipv6(58, icmp(2, 0, 1280, innerUdp6)), families: v6 },
    { name: 'ipv6 icmpv6 parameter problem', pkt: ipv6(58, icmp(4, 1, 40, innerUdp6)), families: v6 },
    { name: 'ipv6 neighbour solicitation', pkt: ipv6(58, icmp(135, 0, 0, built(hex('fe800000000000000000000000000001 0101020000000001')))), families: v6 },
    { name: 'ipv6 sctp', pkt: ipv6(132, sctp()), families: v6 },
    {
      name: 'ipv6 hop-by-hop, routing, destination options, tcp',
      pkt: ipv6(
        0,
        ext6(43, hex('0000 00000000'), ext6(60, hex('0200 00000000 00000000 20010db8000000000000000000000003'), ext6(6, hex('0104 00000000'), tcp(80, 0x02)))),
      ),
      families: v6,
    },
    { name: 'ipv6 first fragment', pkt: ipv6(44, frag6(17, 0x0001, udp(53, Buffer.alloc(16, 9)))), families: v6 },
    { name: 'ipv6 later fragment', pkt: ipv6(44, frag6(6, 0x00b9, built(Buffer.alloc(24, 0x42)))), families: v6 },
    { name: 'ipv6 ah over udp', pkt: ipv6(51, ah(17, udp(500, Buffer.from('ike')))), families: v6 },
    { name: 'ipv6 esp after destination options', pkt: ipv6(60, ext6(50, hex('0104 00000000'), esp())), families: v6 },
    { name: 'ipv6 no next header', pkt: ipv6(59, built(Buffer.alloc(8))), families: v6 },
    { name: 'arp request', pkt: arp(1), families: [3, 7] },
    { name: 'arp reply', pkt: arp(2), families: [3, 7] },
  ];
  return list;
}

// --- nfnetlink_log attributes ------------------------------------------------

/** One datagram's attributes in kernel order; the PAYLOAD attribute's bytes are filled in per case. */
export interface Template {
  name: string;
  family: number;
  attrs: Array<[number, Buffer]>;
  /** Index of NFULA_PAYLOAD in attrs. */
  payload: number;
  pkt: Built;
}

const be16 = (v: number) => {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
};
const be32 = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};
const nla = (type: number, p: Buffer) => {
  const b = Buffer.alloc((4 + p.length + 3) & ~3);
  b.writeUInt16LE(4 + p.length, 0);
  b.writeUInt16LE(type, 2);
  p.copy(b, 4);
  return b;
};

const ETHERTYPE: { [family: number]: number } = { 2: 0x0800, 10: 0x86dd, 3: 0x0806 };

/** The attribute sets a kernel sends: full (input hook, link layer, sequence numbers, conntrack, VLAN) or lean (output hook). */
export function templates(): Template[] {
  const out: Template[] = [];
  for (const { name, pkt, families } of seedPackets()) {
    families.forEach((family, idx) => {
      const ethertype = family === 7 || family === 0 ? (pkt.bytes[0] >> 4 === 6 ? 0x86dd : pkt.bytes[0] >> 4 === 4 ? 0x0800 : 0x0806) : ETHERTYPE[family];
      const eth = hex('020000000002 020000000001 0000');
      eth.writeUInt16BE(ethertype, 12);
      const time = Buffer.concat([be32(0), be32(1_760_000_000 + idx), be32(0), be32(123456)]);
      const full = idx % 2 === 0;
      const attrs: Array<[number, Buffer]> = [
        [NFULA.PACKET_HDR, Buffer.concat([be16(ethertype), Buffer.from([full ? 1 : 3, 0])])],
        [NFULA.MARK, be32(full ? 7 : 0)],
        [NFULA.TIMESTAMP, time],
        [full ? NFULA.IFINDEX_INDEV : NFULA.IFINDEX_OUTDEV, be32(1)],
      ];
      if (family === 7) attrs.push([NFULA.IFINDEX_PHYSINDEV, be32(2)], [NFULA.IFINDEX_PHYSOUTDEV, be32(99)]);
      if (full) {
        attrs.push(
          [NFULA.HWADDR, Buffer.concat([be16(6), be16(0), hex('020000000001 0000')])],
          [NFULA.HWTYPE, be16(1)],
          [NFULA.HWLEN, be16(14)],
          [NFULA.HWHEADER, eth],
          [NFULA.VLAN, Buffer.concat([nla(NFULA_VLAN_PROTO | 0x4000, be16(0x8100)), nla(NFULA_VLAN_TCI | 0x4000, be16(0x2064))])],
          [NFULA.L2HDR, hex('81002064')],
          [NFULA.CT, nla(1 | 0x8000, nla(1 | 0x8000, nla(1, be32(0xc0a80102))))],
          [NFULA.CT_INFO, be32(2)],
        );
      } else {
        attrs.push([NFULA.UID, be32(1000)], [NFULA.GID, be32(1000)]);
      }
      attrs.push([NFULA.PREFIX, Buffer.from(full ? 'IN-drop: \0' : 'out \0')]);
      attrs.push([NFULA.SEQ, be32(41)], [NFULA.SEQ_GLOBAL, be32(4141)]);
      const payload = attrs.length;
      attrs.push([NFULA.PAYLOAD, pkt.bytes]);
      out.push({ name: `${name} (family ${family})`, family, attrs, payload, pkt });
    });
  }
  return out;
}

/** The real datagrams captured from the kernel (test/fixtures/nflog/README.md). */
export function capturedDatagrams(): Buffer[] {
  const dir = path.join(ROOT, 'test', 'fixtures', 'nflog');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bin'))
    .sort()
    .map((f) => fs.readFileSync(path.join(dir, f)));
}

/** A captured datagram's first message as a template, so its packet gets the mutations of built ones. */
export function capturedTemplate(name: string, b: Buffer): Template {
  const attrs: Array<[number, Buffer]> = [];
  let payload = -1;
  for (let a = 20; a + 4 <= b.readUInt32LE(0); ) {
    const alen = b.readUInt16LE(a);
    const type = b.readUInt16LE(a + 2) & 0x3fff;
    if (type === NFULA.PAYLOAD) payload = attrs.length;
    attrs.push([type, b.subarray(a + 4, a + alen)]);
    a += (alen + 3) & ~3;
  }
  const bytes = attrs[payload][1];
  return { name, family: b[16], attrs, payload, pkt: built(bytes, ipFields(bytes)) };
}

/** The length and protocol fields of a real IPv4 or IPv6 packet and of its TCP or UDP header. */
function ipFields(b: Buffer): Field[] {
  let l4: number;
  let proto: number;
  const f: Field[] = [];
  if (b[0] >> 4 === 4) {
    f.push({ off: 0, kind: 'lo4' }, { off: 2, kind: 'len16' }, { off: 9, kind: 'proto' });
    l4 = (b[0] & 15) * 4;
    proto = b[9];
  } else {
    f.push({ off: 4, kind: 'len16' }, { off: 6, kind: 'proto' });
    l4 = 40;
    proto = b[6];
  }
  if (proto === 6) f.push({ off: l4 + 12, kind: 'hi4' });
  if (proto === 17) f.push({ off: l4 + 4, kind: 'len16' });
  return f;
}
