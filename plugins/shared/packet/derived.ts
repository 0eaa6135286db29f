/**
 * The keys a collector makes itself from a forwarded record, exactly as BASE
 * makes them on the sensor: the network and transport headers from raw.pkt
 * (PacketLayers), and the link-layer keys from raw.mac and mac.saddr
 * (LinkKeys): mac.str from the whole header, mac.daddr from a 14-byte
 * (Ethernet) header, and the text forms of both addresses. A sensor that forwards raw.pkt and raw.mac leaves
 * these keys out of its records.
 */
import type { Record } from 'specter/plugin';
import { BASE_KEYS } from './keys.js';
import { isLayerKey, networkProtocol, PacketLayers } from './layers.js';
import { LinkKeys } from './link.js';

const LINK_DERIVED = new Set(['mac.daddr', 'mac.str', 'mac.saddr.str', 'mac.daddr.str']);

/** True for a key a collector makes from the forwarded packet bytes. */
export function isDerivedKey(name: string): boolean {
  return isLayerKey(name) || LINK_DERIVED.has(name);
}

/** Where a record's sources lie in its message (offsets -1 when absent), and its family and link-layer protocol. */
export class DerivedSources {
  pktOff = -1;
  pktEnd = -1;
  macOff = -1;
  macEnd = -1;
  saddrOff = -1;
  saddrEnd = -1;
  family = -1;
  protocol = -1;

  reset(): void {
    this.pktOff = this.pktEnd = this.macOff = this.macEnd = this.saddrOff = this.saddrEnd = this.family = this.protocol = -1;
  }
}

export class DerivedKeys {
  /** True when some derived key is read: otherwise decode() has nothing to do. */
  readonly needed: boolean;
  private readonly layers: PacketLayers;
  private readonly link: LinkKeys;

  /** `slotOf(name)`: the record slot of a key some output reads, -1 for one nobody reads. */
  constructor(slotOf: (name: string) => number) {
    this.layers = new PacketLayers(Int32Array.from(BASE_KEYS, (k) => (isLayerKey(k.name) ? slotOf(k.name) : -1)));
    // mac.saddr travels: only the keys left out are made.
    this.link = new LinkKeys(Int32Array.from(BASE_KEYS, (k) => (LINK_DERIVED.has(k.name) ? slotOf(k.name) : -1)));
    this.needed = this.layers.needed || this.link.needed;
  }

  decode(b: Buffer, src: DerivedSources, rec: Record): void {
    if (src.pktOff >= 0 && this.layers.needed) {
      this.layers.decode(b, src.pktOff, src.pktEnd, networkProtocol(src.family, src.protocol), rec);
    }
    if (this.link.needed) {
      const hLen = src.macOff >= 0 ? src.macEnd - src.macOff : -1;
      const aLen = src.saddrOff >= 0 ? src.saddrEnd - src.saddrOff : -1;
      this.link.decode(b, src.macOff, hLen, src.saddrOff, aLen, rec);
    }
  }
}
