/**
 * The key dictionary of the forwarding encoding: a key listed here travels as
 * its one- or two-byte code (its index + 1) instead of its name. The list only
 * grows at its end, so a sensor and a collector of different versions agree on
 * every code both know; a key missing here (a third-party input's) travels by
 * name, so nothing depends on the list being complete.
 */
export const KEY_CODES: readonly string[] = [
  'raw.pkt', 'raw.pktlen', 'raw.mac', 'raw.mac_len', 'raw.type', 'oob.prefix', 'oob.time.sec',
  'oob.time.usec', 'oob.mark', 'oob.in', 'oob.out', 'oob.ifindex_in', 'oob.ifindex_out', 'oob.physin',
  'oob.physout', 'oob.hook', 'oob.family', 'oob.protocol', 'oob.uid', 'oob.gid', 'oob.seq.local',
  'oob.seq.global', 'oob.vlan', 'ip.saddr', 'ip.daddr', 'ip.saddr.str', 'ip.daddr.str', 'ip.protocol',
  'ip.tos', 'ip.ttl', 'ip.totlen', 'ip.ihl', 'ip.csum', 'ip.id', 'ip.fragoff', 'ip6.payloadlen',
  'ip6.priority', 'ip6.flowlabel', 'ip6.hoplimit', 'ip6.nexthdr', 'ip6.fragoff', 'ip6.fragid', 'tcp.sport',
  'tcp.dport', 'tcp.seq', 'tcp.ackseq', 'tcp.window', 'tcp.offset', 'tcp.reserved', 'tcp.urg', 'tcp.ack',
  'tcp.psh', 'tcp.rst', 'tcp.syn', 'tcp.fin', 'tcp.ece', 'tcp.cwr', 'tcp.ae', 'tcp.urgp', 'tcp.csum',
  'tcp.options', 'udp.sport', 'udp.dport', 'udp.len', 'udp.csum', 'icmp.type', 'icmp.code', 'icmp.echoid',
  'icmp.echoseq', 'icmp.gateway', 'icmp.fragmtu', 'icmp.csum', 'icmpv6.type', 'icmpv6.code', 'icmpv6.echoid',
  'icmpv6.echoseq', 'icmpv6.csum', 'sctp.sport', 'sctp.dport', 'sctp.csum', 'ahesp.spi', 'arp.hwtype',
  'arp.protocoltype', 'arp.operation', 'arp.shwaddr', 'arp.dhwaddr', 'arp.saddr', 'arp.daddr',
  'arp.saddr.str', 'arp.daddr.str', 'mac.saddr', 'mac.daddr', 'mac.str', 'mac.saddr.str', 'mac.daddr.str',
  'local.time', 'local.hostname', 'pwsniff.user', 'pwsniff.pass',
];

/** Key types by their code in the encoding (fixed: never renumbered). */
export const TYPE_CODES = [
  '', 'u8', 'u16', 'u32', 'i8', 'i16', 'i32', 'u64', 'i64', 'bool', 'ipv4', 'ipv6', 'ipaddr', 'mac', 'string', 'raw', 'time',
] as const;
