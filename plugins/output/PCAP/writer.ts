/** Builds the pcap records of one batch into a single buffer. */
import type { Key, OutputContext, Record } from 'specter/plugin';
import { LINKTYPE_NFLOG, NFLOG_TLV, originalLength, SNAPLEN } from './pcap-format.js';

interface NflogKeys {
  family: Key;
  protocol?: Key;
  hook?: Key;
  prefix?: Key;
  in?: Key;
  out?: Key;
  mark?: Key;
  uid?: Key;
  gid?: Key;
  group: number;
}

export class RecordWriter {
  private buf = Buffer.alloc(1 << 20);
  private len = 0;
  count = 0;
  /** Records left out since the last take(): no packet bytes (raw.pkt) to write. */
  leftOut = 0;
  private readonly pkt: Key;
  private readonly sec: Key;
  private readonly usec: Key;
  private readonly nflog: NflogKeys | null;

  constructor(ctx: OutputContext, linktype: number) {
    this.pkt = ctx.key('raw.pkt');
    this.sec = ctx.key('oob.time.sec');
    this.usec = ctx.key('oob.time.usec');
    this.nflog =
      linktype === LINKTYPE_NFLOG
        ? {
            family: ctx.key('oob.family'),
            protocol: ctx.optionalKey('oob.protocol'),
            hook: ctx.optionalKey('oob.hook'),
            prefix: ctx.optionalKey('oob.prefix'),
            in: ctx.optionalKey('oob.ifindex_in'),
            out: ctx.optionalKey('oob.ifindex_out'),
            mark: ctx.optionalKey('oob.mark'),
            uid: ctx.optionalKey('oob.uid'),
            gid: ctx.optionalKey('oob.gid'),
            group: ctx.group,
          }
        : null;
  }

  get bytes(): number {
    return this.len;
  }

  add(rec: Record): void {
    if (!rec.present[this.pkt.slot]) {
      this.leftOut++;
      return;
    }
    let pkt = rec.values[this.pkt.slot] as Uint8Array;
    if (pkt.length > SNAPLEN) pkt = pkt.subarray(0, SNAPLEN);
    const sec = rec.present[this.sec.slot] ? (rec.values[this.sec.slot] as number) : Math.floor(Date.now() / 1000);
    const usec = rec.present[this.usec.slot] ? (rec.values[this.usec.slot] as number) : 0;
    const body = this.nflog ? nflogLength(this.nflog, rec, pkt.length) : pkt.length;
    const orig = this.nflog ? body - pkt.length + originalLength(pkt) : originalLength(pkt);
    this.reserve(16 + body);
    const b = this.buf;
    let o = this.len;
    b.writeUInt32LE(sec >>> 0, o);
    b.writeUInt32LE(usec >>> 0, o + 4);
    b.writeUInt32LE(body, o + 8);
    b.writeUInt32LE(orig, o + 12);
    o += 16;
    if (this.nflog) o = writeNflog(b, o, this.nflog, rec, pkt.length);
    b.set(pkt, o);
    this.len = o + pkt.length;
    this.count++;
  }

  /** The batch so far (copied), and a fresh start. */
  take(): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.len));
    this.len = 0;
    this.count = 0;
    return out;
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }
}

const pad4 = (n: number) => (n + 3) & ~3;

function prefixBytes(k: NflogKeys, rec: Record): string | null {
  return k.prefix && rec.present[k.prefix.slot] ? (rec.values[k.prefix.slot] as string) : null;
}

/** Bytes of the NFLOG header and TLVs, payload TLV header included, payload excluded. */
function nflogLength(k: NflogKeys, rec: Record, payload: number): number {
  let n = 4 + 8; // nflog header + PACKET_HDR
  const prefix = prefixBytes(k, rec);
  if (prefix !== null) n += pad4(4 + Buffer.byteLength(prefix, 'latin1') + 1);
  for (const key of [k.mark, k.in, k.out, k.uid, k.gid]) if (key && rec.present[key.slot]) n += 8;
  return n + 4 + payload; // the payload TLV is the last one: no padding needed after it
}

function writeNflog(b: Buffer, o: number, k: NflogKeys, rec: Record, payload: number): number {
  b[o] = rec.values[k.family.slot] as number;
  b[o + 1] = 0;
  b.writeUInt16BE(k.group, o + 2);
  o += 4;
  // TLV length and type in host byte order, values in network byte order.
  b.writeUInt16LE(8, o);
  b.writeUInt16LE(NFLOG_TLV.PACKET_HDR, o + 2);
  b.writeUInt16BE(k.protocol && rec.present[k.protocol.slot] ? (rec.values[k.protocol.slot] as number) : 0, o + 4);
  b[o + 6] = k.hook && rec.present[k.hook.slot] ? (rec.values[k.hook.slot] as number) : 0;
  b[o + 7] = 0;
  o += 8;
  const prefix = prefixBytes(k, rec);
  if (prefix !== null) {
    const len = 4 + Buffer.byteLength(prefix, 'latin1') + 1;
    b.writeUInt16LE(len, o);
    b.writeUInt16LE(NFLOG_TLV.PREFIX, o + 2);
    b.write(prefix, o + 4, 'latin1');
    b.fill(0, o + len - 1, o + pad4(len));
    o += pad4(len);
  }
  const u32 = (key: Key | undefined, type: number) => {
    if (!key || !rec.present[key.slot]) return;
    b.writeUInt16LE(8, o);
    b.writeUInt16LE(type, o + 2);
    b.writeUInt32BE(rec.values[key.slot] as number, o + 4);
    o += 8;
  };
  u32(k.mark, NFLOG_TLV.MARK);
  u32(k.in, NFLOG_TLV.INDEV);
  u32(k.out, NFLOG_TLV.OUTDEV);
  u32(k.uid, NFLOG_TLV.UID);
  u32(k.gid, NFLOG_TLV.GID);
  b.writeUInt16LE(4 + payload, o);
  b.writeUInt16LE(NFLOG_TLV.PAYLOAD, o + 2);
  return o + 4;
}
