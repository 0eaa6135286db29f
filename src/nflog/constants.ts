/** Netlink and nfnetlink_log constants (linux/netlink.h, linux/netfilter/nfnetlink_log.h). */

export const NETLINK_NETFILTER = 12;

export const NLMSG_HDRLEN = 16;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;

export const NLA_HDRLEN = 4;
export const NLA_TYPE_MASK = ~(0x8000 | 0x4000) & 0xffff; // drop NLA_F_NESTED and NLA_F_NET_BYTEORDER

export const NFGENMSG_LEN = 4;
export const NFNL_SUBSYS_ULOG = 4;
const NFULNL_MSG_PACKET = 0;
export const NFULNL_MSG_CONFIG = 1;
export const MSG_TYPE_PACKET = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
export const MSG_TYPE_CONFIG = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;

/** Attributes of a logged packet (enum nfulnl_attr_type). */
export const NFULA = {
  PACKET_HDR: 1,
  MARK: 2,
  TIMESTAMP: 3,
  IFINDEX_INDEV: 4,
  IFINDEX_OUTDEV: 5,
  IFINDEX_PHYSINDEV: 6,
  IFINDEX_PHYSOUTDEV: 7,
  HWADDR: 8,
  PAYLOAD: 9,
  PREFIX: 10,
  UID: 11,
  SEQ: 12,
  SEQ_GLOBAL: 13,
  GID: 14,
  HWTYPE: 15,
  HWHEADER: 16,
  HWLEN: 17,
  CT: 18,
  CT_INFO: 19,
  VLAN: 20,
  L2HDR: 21,
} as const;

export const NFULA_VLAN_PROTO = 1;
export const NFULA_VLAN_TCI = 2;

/** Attributes of a configuration message (enum nfulnl_attr_config). */
export const NFULA_CFG = {
  CMD: 1,
  MODE: 2,
  NLBUFSIZ: 3,
  TIMEOUT: 4,
  QTHRESH: 5,
  FLAGS: 6,
} as const;

export const CMD = { BIND: 1, UNBIND: 2, PF_BIND: 3, PF_UNBIND: 4 } as const;
export const COPY_MODE = { none: 0, meta: 1, packet: 2 } as const;
export const CFG_FLAG = { SEQ: 0x1, SEQ_GLOBAL: 0x2, CONNTRACK: 0x4 } as const;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;

/** The kernel refuses larger per-group buffers (NFULNL_NLBUFSIZ max in nfnetlink_log.c). */
export const MAX_NLBUFSIZ = 131072;
