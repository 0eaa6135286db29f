/**
 * Inputs of the nfnetlink_log fuzz test. Case i is made from the seeds by a
 * PRNG seeded with (seed, i) alone, so any case can be made again from its
 * number. The first cases cut every seed packet at every length; the rest
 * mutate: bit flips, bytes set to 0/0xff/random, truncation, length fields
 * at boundary values (nlmsg_len, nla_len, IP total length, IHL, TCP data
 * offset, IPv6 payload length, extension header lengths), protocol numbers
 * swapped, attributes duplicated, dropped and reordered, messages joined.
 */
import { MSG_TYPE_PACKET, NLMSG_ERROR } from '../../src/nflog/constants.js';
import type { Built, FieldKind, Template } from './nflog-seeds.js';

/** mulberry32: a small, fast 32-bit PRNG. */
export class Rng {
  private s = 0;

  seed(seed: number, index: number): void {
    // Mix the case number in so neighbouring cases get unrelated streams.
    let h = (seed ^ Math.imul(index, 0x9e3779b1)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    this.s = (h ^ (h >>> 16)) >>> 0;
  }

  u32(): number {
    let t = (this.s = (this.s + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** 0 .. n-1 */
  int(n: number): number {
    return Math.floor((this.u32() / 4294967296) * n);
  }

  chance(p: number): boolean {
    return this.u32() < p * 4294967296;
  }

  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)];
  }
}

const PROTOS = [0, 1, 4, 6, 17, 41, 43, 44, 47, 50, 51, 58, 59, 60, 132, 136, 255];

function boundary(rng: Rng, kind: FieldKind, cur: number, total: number): number {
  switch (kind) {
    case 'len16':
      return (
        rng.pick([0, 1, 2, 3, 4, 5, 7, 8, 19, 20, 21, 39, 40, 41, cur - 1, cur + 1, total, total + 1, 0x7fff, 0x8000, 0xfffe, 0xffff, rng.int(0x10000)]) &
        0xffff
      );
    case 'len8':
      return rng.pick([0, 1, 2, 3, 4, 0x7f, 0x80, 0xfe, 0xff, cur - 1, cur + 1, rng.int(256)]) & 0xff;
    case 'proto':
      return rng.chance(0.8) ? rng.pick(PROTOS) : rng.int(256);
    default:
      return rng.int(16);
  }
}

/** Sets a seed packet's length or protocol field to a boundary value. */
function mutateField(rng: Rng, b: Buffer, pkt: Built): void {
  const f = rng.pick(pkt.fields);
  if (f.off >= b.length) return;
  switch (f.kind) {
    case 'len16':
      if (f.off + 2 <= b.length) b.writeUInt16BE(boundary(rng, 'len16', b.readUInt16BE(f.off), b.length), f.off);
      return;
    case 'lo4':
      b[f.off] = (b[f.off] & 0xf0) | boundary(rng, 'lo4', 0, 0);
      return;
    case 'hi4':
      b[f.off] = (b[f.off] & 0x0f) | (boundary(rng, 'hi4', 0, 0) << 4);
      return;
    default:
      b[f.off] = boundary(rng, f.kind, b[f.off], b.length);
  }
}

/** Bit flips and bytes set to 0, 0xff or random, from `from` on. */
function mutateBytes(rng: Rng, b: Buffer, from = 0): void {
  if (b.length <= from) return;
  const n = 1 + rng.int(4);
  for (let k = 0; k < n; k++) {
    const at = from + rng.int(b.length - from);
    switch (rng.int(4)) {
      case 0:
        b[at] ^= 1 << rng.int(8);
        break;
      case 1:
        b[at] = 0;
        break;
      case 2:
        b[at] = 0xff;
        break;
      default:
        b[at] = rng.int(256);
    }
  }
}

// Offsets of the attribute headers of the last encoded datagram.
const attrOffs: number[] = [];

/** One packet message (nlmsghdr, nfgenmsg, attributes) with consistent lengths; attribute offsets go to attrOffs. */
export function encodeMessage(family: number, attrs: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  let len = 20;
  for (const [, p] of attrs) len += (4 + p.length + 3) & ~3;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(len, 0);
  b.writeUInt16LE(MSG_TYPE_PACKET, 4);
  b.writeUInt32LE(1, 8);
  b[16] = family;
  b.writeUInt16BE(1, 18); // group 1
  let off = 20;
  attrOffs.length = 0;
  for (const [type, p] of attrs) {
    // An attribute longer than nla_len can say is cut to fit, as a kernel would never send it.
    const n = Math.min(p.length, 0xffff - 4);
    attrOffs.push(off);
    b.writeUInt16LE(4 + n, off);
    b.writeUInt16LE(type, off + 2);
    p.copy(b, off + 4, 0, n);
    off += (4 + n + 3) & ~3;
  }
  return b;
}

/** An acknowledgement (NLMSG_ERROR) as the kernel answers a configuration request. */
export function ackMessage(errno: number): Buffer {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(NLMSG_ERROR, 4);
  b.writeInt32LE(-errno, 16);
  b.writeUInt32LE(77, 28);
  return b;
}

/** Attribute header offsets of a well-formed datagram (the captured ones, before mutation). */
function walkAttrs(b: Buffer): number[] {
  const offs: number[] = [];
  let m = 0;
  while (m + 20 <= b.length) {
    const len = b.readUInt32LE(m);
    if (len < 20 || m + len > b.length) break;
    for (let a = m + 20; a + 4 <= m + len; ) {
      const alen = b.readUInt16LE(a);
      if (alen < 4) break;
      offs.push(a);
      a += (alen + 3) & ~3;
    }
    m += (len + 3) & ~3;
  }
  return offs;
}

/** Structural mutations of a datagram: an nla_len or nlmsg_len at a boundary value, a cut, bytes. */
function mutateDatagram(rng: Rng, b: Buffer, attrs: readonly number[]): Buffer {
  switch (rng.int(4)) {
    case 0: {
      if (attrs.length === 0) return b;
      const a = rng.pick(attrs);
      if (a + 4 > b.length) return b;
      const cur = b.readUInt16LE(a);
      const left = b.length - a;
      b.writeUInt16LE(rng.pick([0, 1, 2, 3, 4, 5, 7, 8, cur - 1, cur + 1, cur + 4, left, left + 1, 0x8000, 0xffff]) & 0xffff, a);
      if (rng.chance(0.3)) b[a + 3] ^= rng.pick([0x40, 0x80]); // NLA_F_NET_BYTEORDER / NLA_F_NESTED
      return b;
    }
    case 1: {
      if (b.length < 4) return b;
      const cur = b.readUInt32LE(0);
      b.writeUInt32LE(rng.pick([0, 1, 15, 16, 17, 19, 20, 21, cur - 1, cur + 1, cur + 4, b.length + 1, 0x7fffffff, 0xffffffff]) >>> 0, 0);
      return b;
    }
    case 2:
      return b.subarray(0, rng.int(b.length + 1));
    default:
      mutateBytes(rng, b);
      return b;
  }
}

export class CaseMaker {
  private readonly rng = new Rng();
  private readonly sweep: Array<[number, number]> = [];
  private readonly capturedAttrs: number[][];

  constructor(
    private readonly seed: number,
    private readonly tpl: readonly Template[],
    private readonly captured: readonly Buffer[],
  ) {
    // Every seed packet cut at every length, every captured datagram likewise.
    tpl.forEach((t, i) => {
      for (let n = 0; n <= t.pkt.bytes.length; n++) this.sweep.push([i, n]);
    });
    captured.forEach((c, i) => {
      for (let n = 0; n <= c.length; n++) this.sweep.push([-1 - i, n]);
    });
    this.capturedAttrs = captured.map(walkAttrs);
  }

  /** Cases that cut seeds at every length, made before the random ones. */
  get sweepCases(): number {
    return this.sweep.length;
  }

  /** The input of case `index`. */
  make(index: number): Buffer {
    if (index < this.sweep.length) {
      const [t, n] = this.sweep[index];
      if (t < 0) return this.captured[-1 - t].subarray(0, n);
      const tpl = this.tpl[t];
      return this.message(tpl, tpl.pkt.bytes.subarray(0, n), false);
    }
    const rng = this.rng;
    rng.seed(this.seed, index);
    if (this.captured.length > 0 && rng.chance(0.1)) {
      const i = rng.int(this.captured.length);
      let b: Buffer = Buffer.from(this.captured[i]);
      const n = 1 + rng.int(3);
      for (let k = 0; k < n; k++) b = mutateDatagram(rng, b, this.capturedAttrs[i]);
      return b;
    }
    const tpl = rng.pick(this.tpl);
    let pkt = Buffer.from(tpl.pkt.bytes);
    const n = rng.int(4);
    for (let k = 0; k < n; k++) {
      switch (rng.int(3)) {
        case 0:
          mutateField(rng, pkt, tpl.pkt);
          break;
        case 1:
          mutateBytes(rng, pkt);
          break;
        default:
          pkt = pkt.subarray(0, rng.int(pkt.length + 1));
      }
    }
    let b = this.message(tpl, pkt, true);
    if (rng.chance(0.05)) b = Buffer.concat([b, this.message(rng.pick(this.tpl), rng.pick(this.tpl).pkt.bytes, false)]);
    if (rng.chance(0.02)) b = rng.chance(0.5) ? Buffer.concat([ackMessage(16), b]) : Buffer.concat([b, ackMessage(0)]);
    if (rng.chance(0.3)) b = mutateDatagram(rng, b, attrOffs);
    return b;
  }

  private message(tpl: Template, payload: Buffer, mutate: boolean): Buffer {
    let attrs: Array<readonly [number, Buffer]> = tpl.attrs.map(([type, p], i) => [type, i === tpl.payload ? payload : p] as const);
    const rng = this.rng;
    if (mutate && rng.chance(0.25)) {
      attrs = attrs.slice();
      const i = rng.int(attrs.length);
      switch (rng.int(4)) {
        case 0:
          attrs.splice(rng.int(attrs.length + 1), 0, attrs[i]);
          break; // duplicate
        case 1: {
          const j = rng.int(attrs.length);
          [attrs[i], attrs[j]] = [attrs[j], attrs[i]];
          break;
        } // reorder
        case 2:
          attrs.splice(i, 1);
          break; // drop
        default: {
          // an attribute's payload cut or mutated (a short MARK, a garbled VLAN nest, ...)
          const p = Buffer.from(attrs[i][1]);
          if (rng.chance(0.5)) mutateBytes(rng, p);
          attrs[i] = [attrs[i][0], p.subarray(0, rng.int(p.length + 1))];
        }
      }
    }
    return encodeMessage(mutate && rng.chance(0.05) ? rng.pick([0, 1, 2, 3, 7, 10, 12, 255]) : tpl.family, attrs);
  }
}
