/**
 * nfnetlink_acct wire format (linux/netfilter/nfnetlink_acct.h): a dump
 * request for every accounting object, optionally zeroing their counters as
 * they are read (NFNL_MSG_ACCT_GET_CTRZERO, as `nfacct list reset` does),
 * and the objects in the answer. Netlink and attribute headers are in host
 * byte order (little endian here); the counters are big endian. Decoding
 * never throws on bad input: a malformed message is counted and skipped.
 */
import { i32le, nfnetlinkDump, u16le, u32le } from 'specter/plugin';

const NFNL_SUBSYS_ACCT = 7;
const NFNL_MSG_ACCT_NEW = 0;
const NFNL_MSG_ACCT_GET = 1;
const NFNL_MSG_ACCT_GET_CTRZERO = 2;

const NFACCT_NAME = 1;
const NFACCT_PKTS = 2;
const NFACCT_BYTES = 3;

const NLMSG_HDRLEN = 16;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NFGENMSG_LEN = 4;
const NLA_HDRLEN = 4;
const NLA_TYPE_MASK = 0x3fff; // without NLA_F_NESTED and NLA_F_NET_BYTEORDER
const MSG_ACCT_NEW = (NFNL_SUBSYS_ACCT << 8) | NFNL_MSG_ACCT_NEW;

const align4 = (n: number) => (n + 3) & ~3;

/** One accounting object as the kernel reports it (reused between objects). */
export interface AcctObject {
  name: string;
  pkts: bigint;
  bytes: bigint;
}

export interface AcctHandlers {
  /** One object; reused after this returns. */
  object(obj: AcctObject): void;
  /** NLMSG_DONE: the end of the dump answering request `seq`. */
  done(seq: number): void;
  /** NLMSG_ERROR: an acknowledgement (errno 0) or a refusal of request `seq`. */
  error(seq: number, errno: number): void;
}

export interface AcctStats {
  objects: number;
  malformed: number;
}

/** A request to dump every accounting object; `reset` zeroes each one's counters as it is read. */
export const encodeDump = (seq: number, reset: boolean): Buffer =>
  nfnetlinkDump((NFNL_SUBSYS_ACCT << 8) | (reset ? NFNL_MSG_ACCT_GET_CTRZERO : NFNL_MSG_ACCT_GET), seq);

/** Decodes every message of one datagram. */
export function decodeDatagram(buf: Buffer, obj: AcctObject, h: AcctHandlers, stats: AcctStats): void {
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
    if (type === MSG_ACCT_NEW) {
      if (decodeObject(buf, off + NLMSG_HDRLEN + NFGENMSG_LEN, off + len, obj)) {
        stats.objects++;
        h.object(obj);
      } else {
        stats.malformed++;
      }
    } else if (type === NLMSG_ERROR) {
      if (len >= NLMSG_HDRLEN + 4 + NLMSG_HDRLEN) h.error(u32le(buf, off + NLMSG_HDRLEN + 4 + 8), -i32le(buf, off + NLMSG_HDRLEN));
      else stats.malformed++;
    } else if (type === NLMSG_DONE) {
      h.done(u32le(buf, off + 8));
    }
    off += align4(len);
  }
  if (off < end) stats.malformed++;
}

/** The attributes of one object; false when the name or a counter is missing or cut short. */
function decodeObject(buf: Buffer, off: number, end: number, obj: AcctObject): boolean {
  if (off > end) return false;
  let name: string | null = null;
  let pkts: bigint | null = null;
  let bytes: bigint | null = null;
  while (off + NLA_HDRLEN <= end) {
    const len = u16le(buf, off);
    if (len < NLA_HDRLEN || off + len > end) return false;
    const type = u16le(buf, off + 2) & NLA_TYPE_MASK;
    const data = off + NLA_HDRLEN;
    const size = len - NLA_HDRLEN;
    if (type === NFACCT_NAME) {
      // A NUL-terminated string (at most NFACCT_NAME_MAX, 32 bytes with the NUL).
      const nul = buf.indexOf(0, data);
      name = buf.toString('utf8', data, nul >= 0 && nul < data + size ? nul : data + size);
    } else if (type === NFACCT_PKTS || type === NFACCT_BYTES) {
      if (size !== 8) return false;
      const v = buf.readBigUInt64BE(data);
      if (type === NFACCT_PKTS) pkts = v;
      else bytes = v;
    }
    off += align4(len);
  }
  if (name === null || pkts === null || bytes === null) return false;
  obj.name = name;
  obj.pkts = pkts;
  obj.bytes = bytes;
  return true;
}
