/**
 * What was made of the last bytes seen, kept while the same bytes come
 * again: packets in a burst mostly share their log prefix, link-layer
 * header and MAC addresses, so their strings and copies are made once.
 */
export class LastBytes<T> {
  private last = new Uint8Array(16);
  private len = -1;
  private value!: T;

  constructor(private readonly make: (buf: Buffer, start: number, end: number) => T) {}

  get(buf: Buffer, start: number, end: number): T {
    const n = end - start;
    const last = this.last;
    if (n === this.len) {
      let i = 0;
      while (i < n && buf[start + i] === last[i]) i++;
      if (i === n) return this.value;
    }
    const value = this.make(buf, start, end);
    if (n > last.length) this.last = new Uint8Array(n);
    for (let i = 0; i < n; i++) this.last[i] = buf[start + i];
    this.len = n;
    this.value = value;
    return value;
  }
}

/** A copy of the bytes, so a value does not hold on to the datagram it came from. */
export const copyBytes = (buf: Buffer, start: number, end: number): Uint8Array => Uint8Array.prototype.slice.call(buf, start, end);
