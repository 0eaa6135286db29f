/**
 * How a waiting row is stored on disk (segment files, the reject file): one
 * JSON array per line, bytes as {"b":"<base64>"}, 64-bit integers as
 * {"n":"<digits>"}, an absent value as null.
 */
export const encodeRow = (row: readonly unknown[]): unknown[] => row.map(encode);

export function encode(v: unknown): unknown {
  if (v instanceof Uint8Array) return { b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (typeof v === 'bigint') return { n: v.toString() };
  return v === undefined ? null : v;
}

export function decode(v: unknown): unknown {
  if (v === null) return undefined;
  if (typeof v === 'object') {
    const o = v as { b?: string; n?: string };
    if (o.b !== undefined) return Buffer.from(o.b, 'base64');
    if (o.n !== undefined) return BigInt(o.n);
  }
  return v;
}

/** Bytes a row holds in memory, roughly: what the queue's byte bound counts. */
export function rowBytes(row: readonly unknown[]): number {
  let n = 16 + 8 * row.length;
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    if (typeof v === 'string') n += 16 + v.length;
    else if (v instanceof Uint8Array) n += 96 + v.byteLength;
    else if (typeof v === 'bigint') n += 24;
  }
  return n;
}
