/** nfnetlink_conntrack constants (linux/netfilter/nfnetlink_conntrack.h, nfnetlink.h, nf_conntrack_common.h). */

const NFNL_SUBSYS_CTNETLINK = 1;
const IPCTNL_MSG_CT_NEW = 0;
const IPCTNL_MSG_CT_GET = 1;
const IPCTNL_MSG_CT_DELETE = 2;
export const MSG_CT_NEW = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW;
export const MSG_CT_GET = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_GET;
export const MSG_CT_DELETE = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;

/** Multicast groups (enum nfnetlink_groups); bind() takes them as bits 1 << (group - 1). */
export const NFNLGRP_CONNTRACK_NEW = 1;
export const NFNLGRP_CONNTRACK_UPDATE = 2;
export const NFNLGRP_CONNTRACK_DESTROY = 3;

export const NLM_F_MULTI = 0x2;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

/** ct.event values, as libnetfilter_conntrack's NFCT_T_* (and ulogd2's ct.event) number them. */
export const EVENT = { NEW: 1, UPDATE: 2, DESTROY: 4 } as const;

/** Top-level attributes (enum ctattr_type). */
export const CTA = {
  TUPLE_ORIG: 1,
  TUPLE_REPLY: 2,
  STATUS: 3,
  PROTOINFO: 4,
  HELP: 5,
  NAT_SRC: 6,
  TIMEOUT: 7,
  MARK: 8,
  COUNTERS_ORIG: 9,
  COUNTERS_REPLY: 10,
  USE: 11,
  ID: 12,
  NAT_DST: 13,
  TUPLE_MASTER: 14,
  SEQ_ADJ_ORIG: 15,
  SEQ_ADJ_REPLY: 16,
  SECMARK: 17,
  ZONE: 18,
  SECCTX: 19,
  TIMESTAMP: 20,
  MARK_MASK: 21,
  LABELS: 22,
} as const;

/** Inside a tuple (enum ctattr_tuple). */
export const CTA_TUPLE = { IP: 1, PROTO: 2, ZONE: 3 } as const;
/** Inside CTA_TUPLE_IP (enum ctattr_ip). */
export const CTA_IP = { V4_SRC: 1, V4_DST: 2, V6_SRC: 3, V6_DST: 4 } as const;
/** Inside CTA_TUPLE_PROTO (enum ctattr_l4proto). */
export const CTA_PROTO = {
  NUM: 1,
  SRC_PORT: 2,
  DST_PORT: 3,
  ICMP_ID: 4,
  ICMP_TYPE: 5,
  ICMP_CODE: 6,
  ICMPV6_ID: 7,
  ICMPV6_TYPE: 8,
  ICMPV6_CODE: 9,
} as const;
/** Inside CTA_COUNTERS_* (enum ctattr_counters). */
export const CTA_COUNTERS = { PACKETS: 1, BYTES: 2, PACKETS32: 3, BYTES32: 4 } as const;
/** Inside CTA_TIMESTAMP (enum ctattr_tstamp): nanoseconds since the epoch, 64 bits. */
export const CTA_TIMESTAMP = { START: 1, STOP: 2 } as const;
/** Inside CTA_PROTOINFO: CTA_PROTOINFO_TCP, and in it CTA_PROTOINFO_TCP_STATE (u8). */
export const CTA_PROTOINFO_TCP = 1;
export const CTA_PROTOINFO_TCP_STATE = 1;

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, DCCP: 33, GRE: 47, ICMPV6: 58, SCTP: 132, UDPLITE: 136 } as const;
