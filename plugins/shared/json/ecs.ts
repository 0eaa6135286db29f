/**
 * Elastic Common Schema names for specter keys; other keys go under `specter.`.
 * Field names and types follow ECS_VERSION's ecs_flat.yml (checked by a test).
 */

/** The ECS release followed, written as `ecs.version` in every event. */
export const ECS_VERSION = '8.17.0';

export const ECS_FIELDS: { readonly [key: string]: string } = {
  'ip.saddr': 'source.ip',
  'ip.daddr': 'destination.ip',
  'tcp.sport': 'source.port',
  'tcp.dport': 'destination.port',
  'udp.sport': 'source.port',
  'udp.dport': 'destination.port',
  'sctp.sport': 'source.port',
  'sctp.dport': 'destination.port',
  'mac.saddr': 'source.mac',
  'mac.daddr': 'destination.mac',
  'oob.in': 'observer.ingress.interface.name',
  'oob.out': 'observer.egress.interface.name',
  'oob.ifindex_in': 'observer.ingress.interface.id',
  'oob.ifindex_out': 'observer.egress.interface.id',
  'oob.vlan': 'network.vlan.id',
  'oob.uid': 'user.id',
  'oob.gid': 'group.id',
  'local.hostname': 'observer.hostname',
  'raw.pktlen': 'network.bytes',
  // Flow records (source NFCT): the original direction is the connection's source and destination.
  'orig.ip.saddr': 'source.ip',
  'orig.ip.daddr': 'destination.ip',
  'orig.l4.sport': 'source.port',
  'orig.l4.dport': 'destination.port',
  'orig.raw.pktcount': 'source.packets',
  'orig.raw.pktlen': 'source.bytes',
  'reply.raw.pktcount': 'destination.packets',
  'reply.raw.pktlen': 'destination.bytes',
};

/** Numeric keys whose ECS field is a keyword: written as JSON strings ("1000"). */
export const ECS_NUMBER_KEYWORDS = new Set(['oob.ifindex_in', 'oob.ifindex_out', 'oob.vlan', 'oob.uid', 'oob.gid']);

/** Keys whose text form is replaced by a derived ECS field. */
export const ECS_DERIVED = new Set([
  'oob.prefix',
  'ip.protocol',
  'oob.family',
  'oob.time.sec',
  'oob.time.usec',
  'ip.saddr.str',
  'ip.daddr.str',
  'mac.saddr.str',
  'mac.daddr.str',
  // Flow records: network.transport, event.start, event.end and the NAT fields say these (ecs-flow.ts).
  'orig.ip.protocol',
  'reply.ip.protocol',
  'orig.ip.saddr.str',
  'orig.ip.daddr.str',
  'reply.ip.saddr.str',
  'reply.ip.daddr.str',
  'flow.start.sec',
  'flow.start.usec',
  'flow.end.sec',
  'flow.end.usec',
]);

const TRANSPORT: { [proto: number]: string } = {
  1: 'icmp',
  2: 'igmp',
  6: 'tcp',
  17: 'udp',
  47: 'gre',
  50: 'esp',
  51: 'ah',
  58: 'ipv6-icmp',
  132: 'sctp',
  136: 'udplite',
};

export function transportName(proto: number): string {
  return TRANSPORT[proto] ?? String(proto);
}

/** The rule's prefix as an event action: "ssh-in: " → "ssh-in". */
export function actionFromPrefix(prefix: string): string {
  return prefix.replace(/[\s:]+$/, '');
}
