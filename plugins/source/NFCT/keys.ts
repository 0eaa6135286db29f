/**
 * Every key the NFCT source produces. The names of ulogd2's NFCT input are
 * kept exactly (its `ulog2_ct` table maps them by name), with the `.str`
 * forms ulogd2's IP2STR filter adds, and a few more at the end.
 */
import type { KeyDef, KeyType } from 'specter/plugin';

const k = (name: string, type: KeyType, description: string): KeyDef => ({ name, type, description });

const tuple = (dir: 'orig' | 'reply', what: string): KeyDef[] => [
  k(`${dir}.ip.saddr`, 'ipaddr', `source address of the ${what} direction`),
  k(`${dir}.ip.daddr`, 'ipaddr', `destination address of the ${what} direction`),
  k(`${dir}.ip.saddr.str`, 'string', `${dir}.ip.saddr as text`),
  k(`${dir}.ip.daddr.str`, 'string', `${dir}.ip.daddr as text`),
  k(`${dir}.ip.protocol`, 'u8', 'transport protocol number'),
  k(`${dir}.l4.sport`, 'u16', `source port of the ${what} direction (TCP, UDP, UDP-Lite, SCTP, DCCP)`),
  k(`${dir}.l4.dport`, 'u16', `destination port of the ${what} direction`),
  k(`${dir}.raw.pktlen`, 'u64', `bytes in the ${what} direction (nf_conntrack_acct)`),
  k(`${dir}.raw.pktcount`, 'u64', `packets in the ${what} direction (nf_conntrack_acct)`),
];

export const NFCT_KEYS: readonly KeyDef[] = [
  ...tuple('orig', 'original'),
  ...tuple('reply', 'reply'),
  k('icmp.type', 'u8', 'ICMP or ICMPv6 type of the original direction'),
  k('icmp.code', 'u8', 'ICMP or ICMPv6 code of the original direction'),
  k('ct.mark', 'u32', 'connection mark'),
  k('ct.id', 'u32', 'conntrack id (unique among the connections alive at one time)'),
  k('ct.event', 'u32', 'what made the record: 1 new, 2 update, 4 destroy, 0 a table dump (ctpollinterval, resynchronisation)'),
  k('flow.start.sec', 'u32', 'flow start, seconds since the epoch'),
  k('flow.start.usec', 'u32', 'flow start, microseconds'),
  k('flow.end.sec', 'u32', 'flow end, seconds since the epoch (destroy records)'),
  k('flow.end.usec', 'u32', 'flow end, microseconds'),
  k('oob.family', 'u8', 'protocol family (2 IPv4, 10 IPv6)'),
  k('ct.zone', 'u16', 'conntrack zone, when not the default'),
  k('ct.labels', 'raw', 'connection label bitmap, when set'),
  k('ct.status', 'u32', 'status bits (IPS_*: 0x2 seen reply, 0x4 assured, 0x10 source NAT, 0x20 destination NAT)'),
  k('ct.timeout', 'u32', 'seconds until the entry expires (new and update events, dumps)'),
  k('ct.tcp.state', 'u8', 'TCP state (enum tcp_conntrack: 1 SYN_SENT ... 3 ESTABLISHED ... 7 TIME_WAIT, 8 CLOSE)'),
  k('icmp.id', 'u16', 'ICMP or ICMPv6 echo identifier of the original direction'),
  // The names of the counter columns of ulogd2's MySQL ulog2_ct table (mysql-ulogd2-flat.sql), so it fills too.
  k('orig.bytes', 'u64', "orig.raw.pktlen under the name of ulogd2's MySQL column orig_bytes"),
  k('orig.packets', 'u64', "orig.raw.pktcount under the name of ulogd2's MySQL column orig_packets"),
  k('reply.bytes', 'u64', "reply.raw.pktlen under the name of ulogd2's MySQL column reply_bytes"),
  k('reply.packets', 'u64', "reply.raw.pktcount under the name of ulogd2's MySQL column reply_packets"),
  k('ct.portid', 'u32', "netlink port of the process whose request caused the event (conntrack -D), absent when the kernel's own (a timeout)"),
];
