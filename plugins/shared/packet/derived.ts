/**
 * The keys a collector makes itself from a forwarded record, exactly as BASE
 * makes them on the sensor: the network and transport headers from raw.pkt
 * (PacketLayers), and the link-layer keys from raw.mac and mac.saddr
 * (plugins/input/BASE/decoder.ts, mac()): mac.str from the whole header,
 * mac.daddr from a 14-byte (Ethernet) header, and the text forms of both
 * addresses. A sensor that forwards raw.pkt and raw.mac leaves these keys
 * out of its records.
 */
import { copyBytes, LastBytes, macToString, type Record } from 'specter/plugin';
import { BASE_KEYS } from './keys.js';
import { isLayerKey, networkProtocol, PacketLayers } from './layers.js';

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
  private readonly macStr: number;
  private readonly daddr: number;
  private readonly saddrStr: number;
  private readonly daddrStr: number;
  private readonly macStrOf = new LastBytes(macToString);
  private readonly daddrOf = new LastBytes(copyBytes);
  private readonly saddrStrOf = new LastBytes(macToString);
  private readonly daddrStrOf = new LastBytes(macToString);

  /** `slotOf(name)`: the record slot of a key some output reads, -1 for one nobody reads. */
  constructor(slotOf: (name: string) => number) {
    this.layers = new PacketLayers(Int32Array.from(BASE_KEYS, (k) => (isLayerKey(k.name) ? slotOf(k.name) : -1)));
    this.macStr = slotOf('mac.str');
    this.daddr = slotOf('mac.daddr');
    this.saddrStr = slotOf('mac.saddr.str');
    this.daddrStr = slotOf('mac.daddr.str');
    this.needed = this.layers.needed || this.macStr >= 0 || this.daddr >= 0 || this.saddrStr >= 0 || this.daddrStr >= 0;
  }

  decode(b: Buffer, src: DerivedSources, rec: Record): void {
    if (src.pktOff >= 0 && this.layers.needed) {
      this.layers.decode(b, src.pktOff, src.pktEnd, networkProtocol(src.family, src.protocol), rec);
    }
    const h = src.macOff;
    const len = src.macEnd - h;
    if (h >= 0 && len > 0 && this.macStr >= 0) rec.setSlot(this.macStr, this.macStrOf.get(b, h, src.macEnd));
    if (h >= 0 && len === 14) {
      if (this.daddr >= 0) rec.setSlot(this.daddr, this.daddrOf.get(b, h, h + 6));
      if (this.daddrStr >= 0) rec.setSlot(this.daddrStr, this.daddrStrOf.get(b, h, h + 6));
    }
    if (src.saddrOff >= 0 && this.saddrStr >= 0) rec.setSlot(this.saddrStr, this.saddrStrOf.get(b, src.saddrOff, src.saddrEnd));
  }
}
