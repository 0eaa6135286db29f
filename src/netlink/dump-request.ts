/**
 * An nfnetlink dump request, as the conntrack and accounting sources send it:
 * the netlink header (host byte order) with NLM_F_REQUEST | NLM_F_DUMP, then
 * an nfgenmsg (family, NFNETLINK_V0, resource id 0).
 */
const NLMSG_HDRLEN = 16;
const NFGENMSG_LEN = 4;
const NLM_F_REQUEST = 0x1;
const NLM_F_DUMP = 0x300;

/** `type`: the subsystem shifted left by 8, or'ed with the message type; `family` 0 for every family. */
export function nfnetlinkDump(type: number, seq: number, family = 0): Buffer {
  const b = Buffer.alloc(NLMSG_HDRLEN + NFGENMSG_LEN);
  b.writeUInt32LE(b.length, 0);
  b.writeUInt16LE(type, 4);
  b.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
  b.writeUInt32LE(seq >>> 0, 8);
  b.writeUInt8(family, NLMSG_HDRLEN);
  return b;
}
