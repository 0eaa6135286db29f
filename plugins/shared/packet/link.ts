/**
 * The link-layer keys (mac.*) from a link-layer header and an NFULA_HWADDR
 * address, as BASE sets them: mac.str from the whole header; from a 14-byte
 * (Ethernet) header both addresses and their text; otherwise the source
 * address from NFULA_HWADDR. A collector uses the same code on a forwarded
 * raw.mac and mac.saddr.
 */
import { copyBytes, LastBytes, macToString, type Record } from 'specter/plugin';
import { BASE_KEYS, K } from './keys.js';

export class LinkKeys {
  /** True when some mac.* key is read: otherwise decode() has nothing to do. */
  readonly needed: boolean;
  // Link-layer values repeat from packet to packet: made once while they do.
  private readonly macD = new LastBytes(copyBytes);
  private readonly macS = new LastBytes(copyBytes);
  private readonly macStr = new LastBytes(macToString);
  private readonly macDStr = new LastBytes(macToString);
  private readonly macSStr = new LastBytes(macToString);

  /** `s`: the record slot of each key of BASE_KEYS by its index (K), -1 when nobody reads it. */
  constructor(private readonly s: Int32Array) {
    this.needed = BASE_KEYS.some((k, i) => s[i] >= 0 && k.name.startsWith('mac.'));
  }

  /** The header is buf[h, h + hLen) (hLen -1: none), the NFULA_HWADDR address buf[a, a + aLen) (aLen -1: none). */
  decode(buf: Buffer, h: number, hLen: number, a: number, aLen: number, rec: Record): void {
    const s = this.s;
    let i: number;
    if (hLen > 0 && (i = s[K.MAC_STR]) >= 0) rec.setSlot(i, this.macStr.get(buf, h, h + hLen));
    if (hLen === 14) {
      if ((i = s[K.MAC_DADDR]) >= 0) rec.setSlot(i, this.macD.get(buf, h, h + 6));
      if ((i = s[K.MAC_SADDR]) >= 0) rec.setSlot(i, this.macS.get(buf, h + 6, h + 12));
      if ((i = s[K.MAC_DADDR_STR]) >= 0) rec.setSlot(i, this.macDStr.get(buf, h, h + 6));
      if ((i = s[K.MAC_SADDR_STR]) >= 0) rec.setSlot(i, this.macSStr.get(buf, h + 6, h + 12));
    } else if (aLen > 0) {
      if ((i = s[K.MAC_SADDR]) >= 0) rec.setSlot(i, this.macS.get(buf, a, a + aLen));
      if ((i = s[K.MAC_SADDR_STR]) >= 0) rec.setSlot(i, this.macSStr.get(buf, a, a + aLen));
    }
  }
}
