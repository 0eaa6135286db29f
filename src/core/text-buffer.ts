/**
 * Output text written straight into bytes: records are encoded into one large
 * buffer, and a batch leaves as one slice of it. No per-field strings, no
 * string concatenation to flatten, little for the garbage collector.
 *
 * Bytes handed out by take() are never written again: when the buffer is
 * full, a new one is started, so a slice stays valid while a sink holds it.
 * Writers do not check for room: reserve() first, with an upper bound.
 */

/** Decimal digits of 0..255, for dotted quads. */
const OCTET: Uint8Array[] = Array.from({ length: 256 }, (_, i) => Buffer.from(String(i), 'latin1'));
const HEX_LOWER = Buffer.from('0123456789abcdef', 'latin1');
const HEX_UPPER = Buffer.from('0123456789ABCDEF', 'latin1');

export class TextBuffer {
  buf: Buffer;
  pos = 0;
  private start = 0;

  constructor(private readonly chunkSize = 512 * 1024) {
    this.buf = Buffer.allocUnsafeSlow(chunkSize);
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
    return b;
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

  bytes(b: Uint8Array): void {
    const buf = this.buf;
    let p = this.pos;
    // A loop beats TypedArray.set for the short constants this mostly copies.
    if (b.length <= 32) for (let i = 0; i < b.length; i++) buf[p++] = b[i];
    else {
      buf.set(b, p);
      p += b.length;
    }
    this.pos = p;
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

  /** A non-negative integer below 2^53, in decimal. */
  uint(n: number): void {
    const buf = this.buf;
    if (n < 10) {
      buf[this.pos++] = 48 + n;
      return;
    }
    let digits = 2;
    for (let t = 100; n >= t; t *= 10) digits++;
    let p = this.pos + digits;
    this.pos = p;
    while (n >= 1) {
      const q = Math.floor(n / 10);
      buf[--p] = 48 + (n - q * 10);
      n = q;
    }
  }

  /** An integer below 2^53 in magnitude, in decimal. */
  int(n: number): void {
    if (n < 0) {
      this.buf[this.pos++] = 45; // '-'
      n = -n;
    }
    this.uint(n);
  }

  /** Exactly `width` digits, zero-padded. */
  fixed(n: number, width: number): void {
    const buf = this.buf;
    let p = this.pos + width;
    this.pos = p;
    for (let i = 0; i < width; i++) {
      const q = Math.floor(n / 10);
      buf[--p] = 48 + (n - q * 10);
      n = q;
    }
  }

  /** An IPv4 address held as a host-order number, dotted quad (at most 15 bytes). */
  ipv4(a: number): void {
    this.bytes(OCTET[a >>> 24]);
    this.buf[this.pos++] = 46;
    this.bytes(OCTET[(a >>> 16) & 255]);
    this.buf[this.pos++] = 46;
    this.bytes(OCTET[(a >>> 8) & 255]);
    this.buf[this.pos++] = 46;
    this.bytes(OCTET[a & 255]);
  }

  /** Bytes as hex, with an optional separator byte between them (3 bytes per input byte at most). */
  hex(b: Uint8Array, sep = 0, upper = false): void {
    const buf = this.buf;
    const digit = upper ? HEX_UPPER : HEX_LOWER;
    let p = this.pos;
    for (let i = 0; i < b.length; i++) {
      if (sep && i) buf[p++] = sep;
      buf[p++] = digit[b[i] >> 4];
      buf[p++] = digit[b[i] & 15];
    }
    this.pos = p;
  }

  private renew(n: number): void {
    const pending = this.buf.subarray(this.start, this.pos);
    const next = Buffer.allocUnsafeSlow(Math.max(this.chunkSize, pending.length + n));
    next.set(pending, 0);
    this.buf = next;
    this.start = 0;
    this.pos = pending.length;
  }
}
