import { defineInput } from 'specter/plugin';
import { BaseDecoder } from './decoder.js';
import { BASE_KEYS } from '../../shared/packet/keys.js';

export default defineInput({
  name: 'BASE',
  description: 'NFLOG metadata, IPv4/IPv6, TCP, UDP, ICMP, ICMPv6, SCTP, AH/ESP, ARP and link-layer fields',
  options: {},
  produces: BASE_KEYS,
  create(ctx) {
    return new BaseDecoder(
      BASE_KEYS.map((k) => k.name),
      (n) => ctx.want(n),
    );
  },
});
