/// <reference lib="es2024.string" />
/**
 * Text that comes as bytes from packets and rules (log prefixes, login names).
 * The bytes are whatever the sender chose, mostly UTF-8, sometimes not. A
 * string value holds them without loss: valid UTF-8 decoded as such, and each
 * byte that is not part of valid UTF-8 as the lone surrogate U+DC80..U+DCFF
 * (0xDC00 + the byte, as Python's "surrogateescape" does). Valid UTF-8 never
 * decodes to a lone surrogate, so the two cannot be confused.
 *
 * Outputs of bytes (LOGEMU, syslog lines in the kernel's format) write the
 * original bytes back (putByteText, byteTextBuffer). Outputs of text (JSON,
 * SQL, OPRINT, RFC 5424 syslog) show each such byte as the four characters
 * `\xNN`, lowercase hex (textForm). A string without such bytes is
 * well-formed, which V8 answers at once for one-byte strings: ASCII costs nothing.
 */

const HEX = '0123456789abcdef';
const ESCAPES = Array.from({ length: 256 }, (_, b) => '\\x' + HEX[b >> 4] + HEX[b & 15]);

/** Bytes [start, end) of `buf` as a string holding every byte (see above). */
export function bytesToText(buf: Buffer, start: number, end: number): string {
  let i = start;
  while (i < end && buf[i] < 0x80) i++;
  if (i === end) return buf.toString('latin1', start, end);
  let s = i > start ? buf.toString('latin1', start, i) : '';
  let run = i; // start of the current run of valid UTF-8
  while (i < end) {
    const n = validSequence(buf, i, end);
    if (n > 0) {
      i += n;
      continue;
    }
    if (i > run) s += buf.toString('utf8', run, i);
    s += String.fromCharCode(0xdc00 + buf[i]);
    run = ++i;
  }
  if (end > run) s += buf.toString('utf8', run, end);
  return s;
}

/** Length of the valid UTF-8 sequence at `i` (RFC 3629: no overlongs, surrogates or code points past U+10FFFF), 0 if none. */
function validSequence(b: Uint8Array, i: number, end: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (k: number) => i + k < end && (b[i + k] & 0xc0) === 0x80;
  if (c >= 0xc2 && c <= 0xdf) return cont(1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(1) || !cont(2)) return 0;
    const c1 = b[i + 1];
    if (c === 0xe0 && c1 < 0xa0) return 0; // overlong
    if (c === 0xed && c1 >= 0xa0) return 0; // UTF-16 surrogate
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    const c1 = b[i + 1];
    if (c === 0xf0 && c1 < 0x90) return 0; // overlong
    if (c === 0xf4 && c1 >= 0x90) return 0; // past U+10FFFF
    return 4;
  }
  return 0;
}

const ESCAPED_BYTE = /[\udc80-\udcff]/gu;
const escapeByte = (c: string) => ESCAPES[c.charCodeAt(0) - 0xdc00];

/** The text form: each byte that is not part of valid UTF-8 as `\xNN`. */
export function textForm(s: string): string {
  return s.isWellFormed() ? s : s.replace(ESCAPED_BYTE, escapeByte).toWellFormed();
}

// C0 controls and DEL as themselves, C1 controls as their two UTF-8 bytes, and escaped bytes.
const UNPRINTABLE = /[\x00-\x1f\x7f\x80-\x9f]|[\udc80-\udcff]/gu;
const escapeUnprintable = (c: string) => {
  const u = c.charCodeAt(0);
  if (u >= 0xdc00) return ESCAPES[u - 0xdc00];
  return u < 0x80 ? ESCAPES[u] : ESCAPES[0xc0 | (u >> 6)] + ESCAPES[0x80 | (u & 0x3f)];
};
const HAS_UNPRINTABLE = /[\x00-\x1f\x7f-\x9f]/;

/** The text form for terminals and line-based files: control characters too as the `\xNN` of their UTF-8 bytes. */
export function printableForm(s: string): string {
  if (s.isWellFormed() && !HAS_UNPRINTABLE.test(s)) return s;
  return s.replace(UNPRINTABLE, escapeUnprintable).toWellFormed();
}

/**
 * Writes `s` at `o` as its original bytes (UTF-8, with escaped bytes as
 * themselves) and returns the position after it; room for 3 bytes per
 * UTF-16 unit must be there.
 */
export function putByteText(b: Buffer, o: number, s: string): number {
  // Short ASCII text (interface names, prefixes) is copied here: cheaper than a call into the encoder.
  if (s.length <= 32) {
    let i = 0;
    for (; i < s.length; i++) {
      const u = s.charCodeAt(i);
      if (u >= 0x80) break;
      b[o + i] = u;
    }
    if (i === s.length) return o + i;
  }
  if (s.isWellFormed()) return o + b.write(s, o, 'utf8');
  let run = 0;
  for (let i = 0; i < s.length; i++) {
    const u = s.charCodeAt(i);
    if (u < 0xdc80 || u > 0xdcff || (i > 0 && isHigh(s.charCodeAt(i - 1)))) continue;
    if (i > run) o += b.write(s.slice(run, i), o, 'utf8');
    b[o++] = u - 0xdc00;
    run = i + 1;
  }
  if (run < s.length) o += b.write(s.slice(run), o, 'utf8');
  return o;
}

const isHigh = (u: number) => u >= 0xd800 && u <= 0xdbff;

/** `s` as its original bytes. */
export function byteTextBuffer(s: string): Buffer {
  if (s.isWellFormed()) return Buffer.from(s, 'utf8');
  const b = Buffer.allocUnsafe(s.length * 3);
  return b.subarray(0, putByteText(b, 0, s));
}
