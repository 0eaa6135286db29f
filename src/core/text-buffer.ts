/**
 * Output text written straight into bytes: records are encoded into one large
 * buffer, and a batch leaves as one slice of it. No per-field strings, no
 * string concatenation to flatten, little for the garbage collector.
 *
 * Bytes handed out by take() are never written again: when the buffer is
 * full, a new one is started, so a slice stays valid while a sink holds it.
 * A sink that reports each slice written (release) lets a full buffer be
 * reused once all its slices are out: no stream of large dead buffers for
 * the garbage collector, which is what drove the resident size up.
 * Writers do not check for room: reserve() first, with an upper bound.
 *
 * The put* functions write at a position and return the position after what
 * they wrote; generated encoders keep buffer and position in locals with them.
 */

/** Decimal digits of 0..255, for dotted quads. */
const OCTET: Uint8Array[] = Array.from({ length: 256 }, (_, i) => Buffer.from(String(i), 'latin1'));
const HEX_LOWER = Buffer.from('0123456789abcdef', 'latin1');
const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');

export function putBytes(b: Uint8Array, o: number, src: Uint8Array): number {
  // A loop beats TypedArray.set for the short constants this mostly copies.
  if (src.length <= 32) {
    for (let i = 0; i < src.length; i++) b[o++] = src[i];
    return o;
  }
  b.set(src, o);
  return o + src.length;
}

/** A non-negative integer below 2^53, in decimal (at most 16 bytes). */
export function putUint(b: Uint8Array, o: number, n: number): number {
  if (n < 10) {
    b[o] = 48 + n;
    return o + 1;
  }
  if (n <= 0x7fffffff) {
    // The common case (ports, lengths, times, addresses as numbers) in 32-bit integer arithmetic.
    let x = n | 0;
    const end =
      o + (x < 100 ? 2 : x < 1000 ? 3 : x < 10000 ? 4 : x < 100000 ? 5 : x < 1000000 ? 6 : x < 10000000 ? 7 : x < 100000000 ? 8 : x < 1000000000 ? 9 : 10);
    let p = end;
    while (x >= 10) {
      const q = (x / 10) | 0;
      b[--p] = 48 + x - q * 10;
      x = q;
    }
    b[--p] = 48 + x;
    return end;
  }
  let digits = 10;
  for (let t = 1e10; n >= t; t *= 10) digits++;
  const end = o + digits;
  let p = end;
  while (n >= 1) {
    const q = Math.floor(n / 10);
    b[--p] = 48 + (n - q * 10);
    n = q;
  }
  return end;
}

/** An integer below 2^53 in magnitude, in decimal (at most 17 bytes). */
export function putInt(b: Uint8Array, o: number, n: number): number {
  if (n < 0) {
    b[o++] = 45; // '-'
    n = -n;
  }
  return putUint(b, o, n);
}

/** Exactly `width` digits, zero-padded. */
export function putFixed(b: Uint8Array, o: number, n: number, width: number): number {
  const end = o + width;
  for (let p = end; p > o; ) {
    const q = Math.floor(n / 10);
    b[--p] = 48 + (n - q * 10);
    n = q;
  }
  return end;
}

/** An IPv4 address held as a host-order number, dotted quad (at most 15 bytes). */
export function putIpv4(b: Uint8Array, o: number, a: number): number {
  o = putBytes(b, o, OCTET[a >>> 24]);
  b[o++] = 46;
  o = putBytes(b, o, OCTET[(a >>> 16) & 255]);
  b[o++] = 46;
  o = putBytes(b, o, OCTET[(a >>> 8) & 255]);
  b[o++] = 46;
  return putBytes(b, o, OCTET[a & 255]);
}

/** Bytes as hex, with an optional separator byte between them (3 bytes per input byte at most). */
export function putHex(b: Uint8Array, o: number, src: Uint8Array, sep = 0, upper = false): number {
  const digit = upper ? HEX_UPPER : HEX_LOWER;
  for (let i = 0; i < src.length; i++) {
    if (sep && i) b[o++] = sep;
    b[o++] = digit[src[i] >> 4];
    b[o++] = digit[src[i] & 15];
  }
  return o;
}

/** Slices of a buffer still held by a sink, and whether the buffer is still the one being written. */
interface ChunkState {
  out: number;
  current: boolean;
}

/**
 * Buffers kept for reuse: as many as a burst had waiting for the disk, up to
 * 16 MiB with the default size. Fewer means a stream of dead buffers that the
 * collector frees late, and a resident size far above what is in use.
 */
const SPARE_CHUNKS = 32;

export class TextBuffer {
  buf: Buffer;
  pos = 0;
  private start = 0;
  private readonly states = new WeakMap<ArrayBufferLike, ChunkState>();
  private readonly spare: Buffer[] = [];

  constructor(private readonly chunkSize = 512 * 1024) {
    this.buf = this.chunk(chunkSize);
  }

  /** Bytes written and not yet taken. */
  get pending(): number {
    return this.pos - this.start;
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    if (this.pos + n > this.buf.length) this.renew(n);
  }

  /** The bytes written since the last take. */
  take(): Buffer {
    const b = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    this.states.get(this.buf.buffer)!.out++;
    return b;
  }

  /** A slice from take() was written and is no longer needed; its buffer may be reused. */
  release(slice: Buffer): void {
    const st = this.states.get(slice.buffer);
    if (!st || st.out === 0) return;
    st.out--;
    if (st.out === 0 && !st.current && this.spare.length < SPARE_CHUNKS) this.spare.push(Buffer.from(slice.buffer));
  }

  /** A position to go back to if a record fails halfway; stays valid across renewals. */
  mark(): number {
    return this.pos - this.start;
  }

  rewind(mark: number): void {
    this.pos = this.start + mark;
  }

  byte(c: number): void {
    this.buf[this.pos++] = c;
  }

  bytes(src: Uint8Array): void {
    this.pos = putBytes(this.buf, this.pos, src);
  }

  /** Text of one-byte characters (code points below 256). */
  latin1(s: string): void {
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  /** Any text, as UTF-8; reserve 3 bytes per UTF-16 unit. */
  utf8(s: string): void {
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  int(n: number): void {
    this.pos = putInt(this.buf, this.pos, n);
  }

  hex(src: Uint8Array, sep = 0, upper = false): void {
    this.pos = putHex(this.buf, this.pos, src, sep, upper);
  }

  private renew(n: number): void {
    const pending = this.buf.subarray(this.start, this.pos);
    // Room to grow: a batch larger than a chunk would otherwise be copied into a new buffer for every record.
    const size = Math.max(this.chunkSize, 2 * (pending.length + n));
    const old = this.states.get(this.buf.buffer)!;
    old.current = false;
    if (old.out === 0 && this.spare.length < SPARE_CHUNKS) this.spare.push(this.buf);
    let next = this.spare.pop();
    if (!next || next.length < size) next = this.chunk(size);
    this.states.get(next.buffer)!.current = true;
    next.set(pending, 0);
    this.buf = next;
    this.start = 0;
    this.pos = pending.length;
  }

  private chunk(size: number): Buffer {
    const b = Buffer.allocUnsafeSlow(size);
    this.states.set(b.buffer, { out: 0, current: true });
    return b;
  }
}
