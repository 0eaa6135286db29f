/** Printable forms of key values, shared by outputs. */
import type { KeyType } from './keys.js';

let lastV4 = -1;
let lastV4Text = '';

/** Dotted quad; the last result is kept, as consecutive packets often share an address. */
export function ipv4ToString(a: number): string {
  if (a !== lastV4) {
    lastV4Text = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
    lastV4 = a;
  }
  return lastV4Text;
}

/** RFC 5952 text form: lower case, longest run of zero groups (two or more) as "::". */
export function ipv6ToString(b: Uint8Array): string {
  const g = new Array<number>(8);
  for (let i = 0; i < 8; i++) g[i] = (b[2 * i] << 8) | b[2 * i + 1];
  // IPv4-mapped addresses print with a dotted tail, as inet_ntop does.
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return g.map((x) => x.toString(16)).join(':');
  const head = g
    .slice(0, bestStart)
    .map((x) => x.toString(16))
    .join(':');
  const tail = g
    .slice(bestStart + bestLen)
    .map((x) => x.toString(16))
    .join(':');
  return `${head}::${tail}`;
}

export function ipToString(v: number | Uint8Array): string {
  return typeof v === 'number' ? ipv4ToString(v) : ipv6ToString(v);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** Bytes as lower-case hex pairs joined by ':' (MAC addresses, link-layer headers). */
export function macToString(b: Uint8Array, start = 0, end = b.length): string {
  let s = '';
  for (let i = start; i < end; i++) s += i === start ? HEX[b[i]] : ':' + HEX[b[i]];
  return s;
}

export function hexString(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
}

/** A generic printable form of a value of the given type. */
export function valueToString(type: KeyType, v: unknown): string {
  switch (type) {
    case 'ipv4':
      return ipv4ToString(v as number);
    case 'ipv6':
      return ipv6ToString(v as Uint8Array);
    case 'ipaddr':
      return ipToString(v as number | Uint8Array);
    case 'mac':
      return macToString(v as Uint8Array);
    case 'raw':
      return hexString(v as Uint8Array);
    case 'bool':
      return v ? 'true' : 'false';
    case 'time':
      return new Date(v as number).toISOString();
    default:
      return String(v);
  }
}
