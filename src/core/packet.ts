/**
 * The raw packet view a source hands to the pipeline. NFLOG fills it from
 * nfnetlink_log attributes; other sources (pcap replay, ...) fill what they
 * know. One object is reused per packet: numeric fields are plain numbers,
 * byte fields are (offset, length) pairs into `buf`, so nothing is copied or
 * decoded unless an input plugin asks for it.
 *
 * Absent numeric attributes are -1; absent byte attributes have length -1.
 */
import { bytesToText } from './byte-text.js';
import { LastBytes } from './last-bytes.js';

export class Packet {
  /** Bytes the byte fields point into (the netlink datagram for NFLOG). */
  buf: Buffer = EMPTY;
  /** Source group (NFLOG group id). */
  group = 0;
  /** Protocol family of the packet (nfgenmsg): 2 = IPv4, 10 = IPv6, 7 = bridge, 3 = ARP, 0 = unspec. */
  family = 0;

  hwProtocol = -1; // NFULA_PACKET_HDR hw_protocol (ethertype, host order)
  hook = -1; // NFULA_PACKET_HDR hook
  mark = -1;
  tsSec = -1; // NFULA_TIMESTAMP seconds (-1: none, the kernel did not stamp it)
  tsUsec = -1;
  indev = -1; // interface indexes
  outdev = -1;
  physindev = -1;
  physoutdev = -1;
  uid = -1;
  gid = -1;
  seqLocal = -1;
  seqGlobal = -1;
  hwType = -1; // NFULA_HWTYPE (ARPHRD_*)
  hwLen = -1; // NFULA_HWLEN
  vlanTci = -1; // NFULA_VLAN / NFULA_VLAN_TCI
  vlanProto = -1; // NFULA_VLAN / NFULA_VLAN_PROTO
  ctInfo = -1; // NFULA_CT_INFO

  hwAddrOff = 0;
  hwAddrLen = -1; // NFULA_HWADDR address bytes
  hwHeaderOff = 0;
  hwHeaderLen = -1; // NFULA_HWHEADER (the link-layer header)
  payloadOff = 0;
  payloadLen = -1; // NFULA_PAYLOAD (network header onwards)
  prefixOff = 0;
  prefixLen = -1; // NFULA_PREFIX without the trailing NUL
  l2HdrOff = 0;
  l2HdrLen = -1; // NFULA_L2HDR
  ctOff = 0;
  ctLen = -1; // NFULA_CT, kept raw

  /** Resets every field to absent; called by the source before each packet. */
  reset(buf: Buffer): void {
    this.buf = buf;
    this.family = 0;
    this.hwProtocol = this.hook = this.mark = this.tsSec = this.tsUsec = -1;
    this.indev = this.outdev = this.physindev = this.physoutdev = -1;
    this.uid = this.gid = this.seqLocal = this.seqGlobal = -1;
    this.hwType = this.hwLen = this.vlanTci = this.vlanProto = this.ctInfo = -1;
    this.hwAddrLen = this.hwHeaderLen = this.payloadLen = this.prefixLen = this.l2HdrLen = this.ctLen = -1;
  }

  /** The log prefix as a string ('' when absent), every byte kept (see byte-text.ts). */
  prefix(): string {
    return this.prefixLen > 0 ? this.prefixes.get(this.buf, this.prefixOff, this.prefixOff + this.prefixLen) : '';
  }

  private readonly prefixes = new LastBytes(bytesToText);

  /** A view of the payload bytes (no copy). */
  payload(): Buffer {
    return this.payloadLen > 0 ? this.buf.subarray(this.payloadOff, this.payloadOff + this.payloadLen) : EMPTY;
  }
}

const EMPTY = Buffer.alloc(0);
