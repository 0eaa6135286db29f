/**
 * The IPFIX templates (RFC 7011) the exporter announces, with IANA
 * information elements for both conntrack tuples: one for IPv4 flows and one
 * for IPv6 flows, each in two sizes. Counters that all fit in 32 bits (nearly
 * every flow) go in the reduced-size encoding of RFC 7011 section 6.2, which
 * collectors must read; a flow with a larger one uses the 64-bit template.
 * flowId carries conntrack's 32-bit id in 4 bytes. The encoder writes each
 * data record field by field in exactly this order; a test checks that the
 * lengths agree.
 */

/** RFC 5103 reverse information elements: the forward element's id under this enterprise number. */
const REVERSE_PEN = 29305;
/** The netfilter project's enterprise number (as ulogd2 uses it), for the conntrack mark. */
const NETFILTER_PEN = 21373;

export interface Field {
  readonly name: string;
  readonly id: number;
  readonly length: number;
  /** Enterprise number: the element is sent with the enterprise bit set. */
  readonly pen?: number;
}

/** Templates with 64-bit counters. */
export const TEMPLATE_IPV4 = 256;
export const TEMPLATE_IPV6 = 257;
/** Templates with 32-bit counters. */
export const TEMPLATE_IPV4_COUNT32 = 258;
export const TEMPLATE_IPV6_COUNT32 = 259;

/** Fields of every template after the addresses, ports and protocol, with counters of `size` bytes. */
const tail = (size: number): readonly Field[] => [
  { name: 'packetDeltaCount', id: 2, length: size },
  { name: 'octetDeltaCount', id: 1, length: size },
  { name: 'reversePacketDeltaCount', id: 2, length: size, pen: REVERSE_PEN },
  { name: 'reverseOctetDeltaCount', id: 1, length: size, pen: REVERSE_PEN },
  { name: 'flowStartMilliseconds', id: 152, length: 8 },
  { name: 'flowEndMilliseconds', id: 153, length: 8 },
  { name: 'flowId', id: 148, length: 4 },
  { name: 'mark', id: 4, length: 4, pen: NETFILTER_PEN },
];

const ipv4 = (counters: number): readonly Field[] => [
  { name: 'sourceIPv4Address', id: 8, length: 4 },
  { name: 'destinationIPv4Address', id: 12, length: 4 },
  { name: 'sourceTransportPort', id: 7, length: 2 },
  { name: 'destinationTransportPort', id: 11, length: 2 },
  { name: 'protocolIdentifier', id: 4, length: 1 },
  { name: 'postNATSourceIPv4Address', id: 225, length: 4 },
  { name: 'postNATDestinationIPv4Address', id: 226, length: 4 },
  { name: 'postNAPTSourceTransportPort', id: 227, length: 2 },
  { name: 'postNAPTDestinationTransportPort', id: 228, length: 2 },
  { name: 'icmpTypeCodeIPv4', id: 32, length: 2 },
  ...tail(counters),
];

const ipv6 = (counters: number): readonly Field[] => [
  { name: 'sourceIPv6Address', id: 27, length: 16 },
  { name: 'destinationIPv6Address', id: 28, length: 16 },
  { name: 'sourceTransportPort', id: 7, length: 2 },
  { name: 'destinationTransportPort', id: 11, length: 2 },
  { name: 'protocolIdentifier', id: 4, length: 1 },
  { name: 'postNATSourceIPv6Address', id: 281, length: 16 },
  { name: 'postNATDestinationIPv6Address', id: 282, length: 16 },
  { name: 'postNAPTSourceTransportPort', id: 227, length: 2 },
  { name: 'postNAPTDestinationTransportPort', id: 228, length: 2 },
  { name: 'icmpTypeCodeIPv6', id: 139, length: 2 },
  ...tail(counters),
];

/** Each template's fields, by template id. */
export const TEMPLATES: ReadonlyMap<number, readonly Field[]> = new Map([
  [TEMPLATE_IPV4, ipv4(8)],
  [TEMPLATE_IPV6, ipv6(8)],
  [TEMPLATE_IPV4_COUNT32, ipv4(4)],
  [TEMPLATE_IPV6_COUNT32, ipv6(4)],
]);

export const recordLength = (fields: readonly Field[]): number => fields.reduce((n, f) => n + f.length, 0);

export const MESSAGE_HEADER = 16;
export const SET_HEADER = 4;

/** A Template Set (set id 2) holding every template. */
export function templateSet(): Buffer {
  let len = SET_HEADER;
  for (const fields of TEMPLATES.values()) len += 4 + fields.reduce((n, f) => n + (f.pen ? 8 : 4), 0);
  const b = Buffer.alloc(len);
  b.writeUInt16BE(2, 0);
  b.writeUInt16BE(len, 2);
  let o = SET_HEADER;
  for (const [id, fields] of TEMPLATES) {
    b.writeUInt16BE(id, o);
    b.writeUInt16BE(fields.length, o + 2);
    o += 4;
    for (const f of fields) {
      b.writeUInt16BE(f.pen ? f.id | 0x8000 : f.id, o);
      b.writeUInt16BE(f.length, o + 2);
      o += 4;
      if (f.pen) {
        b.writeUInt32BE(f.pen, o);
        o += 4;
      }
    }
  }
  return b;
}
