/**
 * Per-packet decoding for BASE. Every key's slot is looked up once at
 * start-up (-1 when nobody reads it); whole layers are skipped when none of
 * their keys is read. The NFLOG metadata is read here; the link layer
 * (LinkKeys) and the network and transport headers (PacketLayers)
 * with code shared with the forwarding collector, which makes them from a
 * forwarded raw.mac and raw.pkt.
 */
import { type Key, type Packet, type Record, copyBytes, LastBytes } from 'specter/plugin';
import { K } from '../../shared/packet/keys.js';
import { networkProtocol, PacketLayers } from '../../shared/packet/layers.js';
import { LinkKeys } from '../../shared/packet/link.js';
import { IfNames } from './ifnames.js';
import { WallClock } from './wall-clock.js';

type Want = (name: string) => Key | null;

export class BaseDecoder {
  private readonly ifnames: IfNames | null;
  // one slot field per key, -1 = not read
  private readonly s: Int32Array;
  private readonly layers: PacketLayers;
  private readonly link: LinkKeys;
  // raw.mac repeats from packet to packet: copied once while it does.
  private readonly rawMac = new LastBytes(copyBytes);
  // Time for packets the kernel sent without one (output hook).
  private readonly clock = new WallClock();

  /** `names` must be BASE_KEYS' names in order (K indexes them). */
  constructor(names: readonly string[], want: Want) {
    this.s = new Int32Array(names.length);
    names.forEach((n, idx) => {
      this.s[idx] = want(n)?.slot ?? -1;
    });
    this.layers = new PacketLayers(this.s);
    this.link = new LinkKeys(this.s);
    const needNames = [K.OOB_IN, K.OOB_OUT, K.OOB_PHYSIN, K.OOB_PHYSOUT].some((idx) => this.s[idx] >= 0);
    this.ifnames = needNames ? new IfNames() : null;
  }

  process(pkt: Packet, rec: Record): void {
    const s = this.s;
    const buf = pkt.buf;
    let i: number;
    if ((i = s[K.OOB_PREFIX]) >= 0) rec.setSlot(i, pkt.prefix());
    if ((i = s[K.OOB_TIME_SEC]) >= 0 || s[K.OOB_TIME_USEC] >= 0) {
      let sec = pkt.tsSec;
      let usec = pkt.tsUsec;
      if (sec < 0) {
        const now = this.clock.now();
        sec = Math.floor(now / 1e6);
        usec = now - sec * 1e6;
      }
      if (i >= 0) rec.setSlot(i, sec);
      if ((i = s[K.OOB_TIME_USEC]) >= 0) rec.setSlot(i, usec);
    }
    if ((i = s[K.OOB_MARK]) >= 0 && pkt.mark >= 0) rec.setSlot(i, pkt.mark);
    if ((i = s[K.OOB_IFINDEX_IN]) >= 0 && pkt.indev >= 0) rec.setSlot(i, pkt.indev);
    if ((i = s[K.OOB_IFINDEX_OUT]) >= 0 && pkt.outdev >= 0) rec.setSlot(i, pkt.outdev);
    if (this.ifnames) {
      if ((i = s[K.OOB_IN]) >= 0) rec.setSlot(i, this.ifnames.name(pkt.indev));
      if ((i = s[K.OOB_OUT]) >= 0) rec.setSlot(i, this.ifnames.name(pkt.outdev));
      // Bridge ports exist only for bridged packets: absent otherwise, as the kernel sends them.
      if ((i = s[K.OOB_PHYSIN]) >= 0 && pkt.physindev > 0) rec.setSlot(i, this.ifnames.name(pkt.physindev));
      if ((i = s[K.OOB_PHYSOUT]) >= 0 && pkt.physoutdev > 0) rec.setSlot(i, this.ifnames.name(pkt.physoutdev));
    }
    if ((i = s[K.OOB_HOOK]) >= 0 && pkt.hook >= 0) rec.setSlot(i, pkt.hook);
    if ((i = s[K.OOB_FAMILY]) >= 0) rec.setSlot(i, pkt.family);
    if ((i = s[K.OOB_PROTOCOL]) >= 0 && pkt.hwProtocol >= 0) rec.setSlot(i, pkt.hwProtocol);
    if ((i = s[K.OOB_UID]) >= 0 && pkt.uid >= 0) rec.setSlot(i, pkt.uid);
    if ((i = s[K.OOB_GID]) >= 0 && pkt.gid >= 0) rec.setSlot(i, pkt.gid);
    if ((i = s[K.OOB_SEQ_LOCAL]) >= 0 && pkt.seqLocal >= 0) rec.setSlot(i, pkt.seqLocal);
    if ((i = s[K.OOB_SEQ_GLOBAL]) >= 0 && pkt.seqGlobal >= 0) rec.setSlot(i, pkt.seqGlobal);
    if ((i = s[K.OOB_VLAN]) >= 0 && pkt.vlanTci >= 0) rec.setSlot(i, pkt.vlanTci & 0x0fff);
    if ((i = s[K.RAW_TYPE]) >= 0 && pkt.hwType >= 0) rec.setSlot(i, pkt.hwType);
    if (pkt.hwHeaderLen >= 0) {
      if ((i = s[K.RAW_MAC]) >= 0) rec.setSlot(i, this.rawMac.get(buf, pkt.hwHeaderOff, pkt.hwHeaderOff + pkt.hwHeaderLen));
      if ((i = s[K.RAW_MAC_LEN]) >= 0) rec.setSlot(i, pkt.hwHeaderLen);
    }
    if (this.link.needed) this.link.decode(buf, pkt.hwHeaderOff, pkt.hwHeaderLen, pkt.hwAddrOff, pkt.hwAddrLen, rec);
    if (pkt.payloadLen > 0) {
      if ((i = s[K.RAW_PKT]) >= 0) rec.setSlot(i, buf.subarray(pkt.payloadOff, pkt.payloadOff + pkt.payloadLen));
      if ((i = s[K.RAW_PKTLEN]) >= 0) rec.setSlot(i, pkt.payloadLen);
    } else {
      return;
    }
    if (this.layers.needed) {
      this.layers.decode(buf, pkt.payloadOff, pkt.payloadOff + pkt.payloadLen, networkProtocol(pkt.family, pkt.hwProtocol), rec);
    }
  }
}
