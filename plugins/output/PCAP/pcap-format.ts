/**
 * pcap file format (the classic libpcap one, microsecond timestamps, written
 * in host byte order as libpcap does) and the LINKTYPE_NFLOG record layout.
 */

export const LINKTYPE_RAW = 101;
export const LINKTYPE_NFLOG = 239;
export const SNAPLEN = 65535;

export function globalHeader(linktype: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(0xa1b2c3d4, 0);
  b.writeUInt16LE(2, 4);
  b.writeUInt16LE(4, 6);
  b.writeInt32LE(0, 8); // thiszone
  b.writeUInt32LE(0, 12); // sigfigs
  b.writeUInt32LE(SNAPLEN, 16);
  b.writeUInt32LE(linktype, 20);
  return b;
}

/** The packet's length on the wire, from its IP header when the capture was cut short. */
export function originalLength(pkt: Uint8Array): number {
  if (pkt.length >= 20 && pkt[0] >> 4 === 4) return Math.max(pkt.length, (pkt[2] << 8) | pkt[3]);
  if (pkt.length >= 40 && pkt[0] >> 4 === 6) return Math.max(pkt.length, ((pkt[4] << 8) | pkt[5]) + 40);
  return pkt.length;
}

/** NFLOG TLV types (the nfnetlink_log attribute numbers). */
export const NFLOG_TLV = { PACKET_HDR: 1, MARK: 2, TIMESTAMP: 3, INDEV: 4, OUTDEV: 5, PAYLOAD: 9, PREFIX: 10, UID: 11, GID: 14 } as const;
