/**
 * The forwarding encoding (version 2): one message carries a run of records
 * of one sensor and group with consecutive sequence numbers, so that a busy
 * sensor publishes (and a collector fetches and acknowledges) one message
 * per batch rather than per record. A message is self-contained: any
 * collector can read any message on its own.
 *
 *   0   'S' (0x53)            magic
 *   1   2                     version
 *   2   flags                 bit 0 (DERIVED_OMITTED): the sensor left out the keys BASE reads
 *                             from the packet bytes (ip.*, tcp.*, ..., mac.str, mac.daddr and
 *                             the text forms of the MAC addresses); the collector makes them
 *                             from raw.pkt, raw.mac and mac.saddr as BASE does
 *                             (plugins/shared/packet/derived.ts)
 *   3   L                     length of the sensor name (1..255)
 *   4   seq      u64 LE       sequence number of the first record (below 2^53); record i has seq + i
 *   12  group    u16 LE       the sensor's group
 *   14  sensor   L bytes      the sensor's name
 *   ..  records  u16 LE       number of records that follow (at least 1)
 *   per record:
 *       count    u16 LE       number of keys that follow
 *       per key: code (1 byte below 128, else 2: low 7 bits | 0x80, then the rest);
 *                code 0 is followed by the name (u8 length, bytes); then the type
 *                (u8, TYPE_CODES) and the value:
 *                u8 i8 bool: 1 byte; u16 i16: 2; u32 i32 ipv4: 4; u64 i64: 8; time: f64;
 *                ipv6: 16 bytes; ipaddr: 4 or 6, then 4 or 16 bytes;
 *                mac raw string: length (LEB128), bytes (a string as its original bytes).
 *
 * All integers little-endian. A decoder checks every length against the
 * message, so garbage is refused with a reason and never read out of bounds.
 */
import { bytesToText, putByteText, type Key, type Record } from 'specter/plugin';
import { type DerivedKeys, DerivedSources } from '../packet/derived.js';
import { KEY_CODES, TYPE_CODES } from './key-codes.js';

const MAGIC = 0x53;
const VERSION = 2;
/** Offset of the first sequence number, read by the spool and the publisher without decoding the message. */
const SEQ_OFFSET = 4;
const HEADER = 14;
/** Header flag: the keys made from the packet bytes are left out, for the collector to make. */
export const DERIVED_OMITTED = 1;
/** Records in one message, at most (the count is a u16). */
export const MAX_RECORDS = 0xffff;

const TYPE_CODE = new Map<string, number>(TYPE_CODES.map((t, i) => [t, i]));
const CODE_OF = new Map<string, number>(KEY_CODES.map((n, i) => [n, i + 1]));
/** Codes of the keys a collector makes the derived keys from. */
const RAW_PKT = CODE_OF.get('raw.pkt')!;
const RAW_MAC = CODE_OF.get('raw.mac')!;
const MAC_SADDR = CODE_OF.get('mac.saddr')!;
const OOB_FAMILY = CODE_OF.get('oob.family')!;
const OOB_PROTOCOL = CODE_OF.get('oob.protocol')!;

/** A growing byte buffer written at `pos`; ensure() before writing. */
export class ByteWriter {
  buf: Buffer;
  pos = 0;

  constructor(size = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(size);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
}

/**
 * Encodes messages of one group: begin(), add() per record, end(). Only the
 * keys given (those the group's inputs produce) are written, when present.
 */
export class RecordEncoder {
  /** Per slot: the key's code (or name) and type bytes, or undefined when the slot is not encoded. */
  private readonly heads: (Uint8Array | undefined)[] = [];
  private readonly types: Uint8Array;
  private readonly sensor: Buffer;
  private w: ByteWriter = new ByteWriter(16);
  /** Where the open message starts in `w`, and its record count. */
  private start = -1;
  records = 0;
  private count = 0;
  private readonly onSlot = (slot: number, value: unknown) => this.put(slot, value);

  constructor(
    keys: readonly Key[],
    slots: number,
    sensor: string,
    private readonly group: number,
    private readonly flags = 0,
  ) {
    this.sensor = Buffer.from(sensor, 'utf8');
    if (this.sensor.length < 1 || this.sensor.length > 255) throw new Error(`sensor name "${sensor}" must be 1 to 255 bytes`);
    this.types = new Uint8Array(slots);
    for (const k of keys) {
      const code = CODE_OF.get(k.name) ?? 0;
      const type = TYPE_CODE.get(k.type)!;
      const name = code === 0 ? Buffer.from(k.name, 'utf8') : null;
      if (name && name.length > 255) throw new Error(`key name "${k.name}" is longer than 255 bytes`);
      const head =
        code === 0
          ? Buffer.concat([Buffer.from([0, name!.length]), name!, Buffer.from([type])])
          : code < 0x80
            ? Buffer.from([code, type])
            : Buffer.from([(code & 0x7f) | 0x80, code >> 7, type]);
      this.heads[k.slot] = head;
      this.types[k.slot] = type;
    }
  }

  /** True while a message is open. */
  get open(): boolean {
    return this.start >= 0;
  }

  /** Opens a message at w.pos; its first sequence number is given to end(). */
  begin(w: ByteWriter): void {
    const start = w.pos;
    w.ensure(HEADER + this.sensor.length + 2);
    const b = w.buf;
    b[start] = MAGIC;
    b[start + 1] = VERSION;
    b[start + 2] = this.flags;
    b[start + 3] = this.sensor.length;
    b.writeUInt16LE(this.group, start + 12);
    this.sensor.copy(b, start + HEADER);
    w.pos = start + HEADER + this.sensor.length + 2;
    this.w = w;
    this.start = start;
    this.records = 0;
  }

  /** Appends a record to the open message. */
  add(rec: Record): void {
    const w = this.w;
    w.ensure(2);
    const countAt = w.pos;
    w.pos += 2;
    this.count = 0;
    rec.forEachSet(this.onSlot);
    w.buf.writeUInt16LE(this.count, countAt);
    this.records++;
  }

  /** Closes the open message, its records numbered from `firstSeq`; returns its length in bytes. */
  end(firstSeq: number): number {
    const b = this.w.buf;
    const start = this.start;
    b.writeUInt32LE(firstSeq % 0x100000000, start + SEQ_OFFSET);
    b.writeUInt32LE(Math.floor(firstSeq / 0x100000000), start + SEQ_OFFSET + 4);
    b.writeUInt16LE(this.records, start + HEADER + this.sensor.length);
    this.start = -1;
    return this.w.pos - start;
  }

  private put(slot: number, v: unknown): void {
    const head = this.heads[slot];
    if (head === undefined || v === undefined) return;
    const w = this.w;
    const type = this.types[slot];
    // The widest fixed value is 17 bytes (ipaddr); variable ones ensure again below.
    w.ensure(head.length + 17);
    let b = w.buf;
    let o = w.pos;
    for (let i = 0; i < head.length; i++) b[o++] = head[i];
    switch (type) {
      case 1:
      case 4:
      case 9:
        b[o++] = v === true ? 1 : v === false ? 0 : (v as number) & 0xff;
        break;
      case 2:
      case 5:
        b[o++] = (v as number) & 0xff;
        b[o++] = ((v as number) >> 8) & 0xff;
        break;
      case 3:
      case 10:
        b.writeUInt32LE((v as number) >>> 0, o);
        o += 4;
        break;
      case 6:
        b.writeInt32LE(v as number, o);
        o += 4;
        break;
      case 7:
        b.writeBigUInt64LE(BigInt.asUintN(64, BigInt(v as bigint)), o);
        o += 8;
        break;
      case 8:
        b.writeBigInt64LE(BigInt.asIntN(64, BigInt(v as bigint)), o);
        o += 8;
        break;
      case 16:
        b.writeDoubleLE(v as number, o);
        o += 8;
        break;
      case 11:
        b.set(v as Uint8Array, o);
        o += 16;
        break;
      case 12:
        if (typeof v === 'number') {
          b[o++] = 4;
          b.writeUInt32LE(v >>> 0, o);
          o += 4;
        } else {
          b[o++] = 6;
          b.set(v as Uint8Array, o);
          o += 16;
        }
        break;
      case 13:
      case 15: {
        const bytes = v as Uint8Array;
        w.pos = o;
        w.ensure(5 + bytes.length);
        b = w.buf;
        o = putVarint(b, w.pos, bytes.length);
        b.set(bytes, o);
        o += bytes.length;
        break;
      }
      case 14: {
        const s = v as string;
        // At most 3 bytes per UTF-16 unit; the length goes before the bytes, so leave room for 5.
        w.pos = o;
        w.ensure(5 + s.length * 3);
        b = w.buf;
        const end = putByteText(b, o + 5, s);
        const n = end - o - 5;
        const lenEnd = putVarint(b, o, n);
        if (lenEnd !== o + 5) b.copyWithin(lenEnd, o + 5, end);
        o = lenEnd + n;
        break;
      }
    }
    w.pos = o;
    this.count++;
  }
}

function putVarint(b: Uint8Array, o: number, n: number): number {
  while (n >= 0x80) {
    b[o++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  b[o++] = n;
  return o;
}

/** A message that is no specter record of a version this decoder reads. */
export class RecordFormatError extends Error {
  override readonly name = 'RecordFormatError';
}

/** The sequence number of a message's first record (read without decoding it). */
export function firstSeq(b: Buffer, o: number): number {
  return b.readUInt32LE(o + SEQ_OFFSET) + b.readUInt32LE(o + SEQ_OFFSET + 4) * 0x100000000;
}

/** The number of records in a message (read without decoding it). */
export function recordCount(b: Buffer, o: number): number {
  return b.readUInt16LE(o + HEADER + b[o + 3]);
}

/** The sequence number of a message's last record. */
export function lastSeq(b: Buffer, o: number): number {
  return firstSeq(b, o) + recordCount(b, o) - 1;
}

/**
 * Decodes messages: open() checks a whole message, then next() decodes its
 * records one by one into a (reused) record. `resolve(name)` gives the local
 * key to set, null for a key known here but read by nobody (skipped),
 * undefined for a key unknown here (skipped and counted). A key whose type
 * differs from the local key of that name is skipped and counted too. In a
 * message whose sensor left the derived keys out, `derived` (when some
 * of them are read here) sets them from the record's raw.pkt.
 */
export class RecordDecoder {
  /** Header of the open message, and the sequence number of the last record decoded. */
  sensor = '';
  seq = 0;
  group = 0;
  /** Records of the open message. */
  records = 0;
  /** Keys skipped because the local key of that name has another type. */
  typeMismatches = 0;
  /** Keys skipped because no local key has that name (a third-party input's on the sensor). */
  unknownKeys = 0;
  private sensorBytes = Buffer.alloc(0);
  /** Resolved keys by code and by name: false when no local key has the name, null when none is wanted. */
  private readonly byCode: (Key | null | false | undefined)[] = [];
  private readonly byName = new Map<string, Key | null | false>();
  private b: Buffer = Buffer.alloc(0);
  private o = 0;
  private left = 0;
  /** The open message leaves the header keys to this decoder. */
  private derive = false;
  /** Of the record being read: where raw.pkt lies (-1: absent), oob.family and oob.protocol (-1: absent). */
  private readonly src = new DerivedSources();

  constructor(
    private readonly resolve: (name: string) => Key | null | undefined,
    private readonly derived: DerivedKeys | null = null,
  ) {}

  /**
   * Opens `b` (one whole message) and checks every record in it, so that a
   * damaged message is refused before any of its records is delivered.
   * Returns the number of records. Throws RecordFormatError.
   */
  open(b: Buffer): number {
    this.left = 0;
    const end = b.length;
    if (end < HEADER + 3 || b[0] !== MAGIC) throw new RecordFormatError('not a specter record');
    if (b[1] !== VERSION) throw new RecordFormatError(`record version ${b[1]} is not one this collector reads (${VERSION})`);
    if (b[2] & ~DERIVED_OMITTED) throw new RecordFormatError(`record flags 0x${b[2].toString(16)} are not ones this collector reads`);
    const sl = b[3];
    if (sl === 0 || HEADER + sl + 2 > end) throw new RecordFormatError('truncated record header');
    let o = HEADER + sl;
    const records = b[o] | (b[o + 1] << 8);
    o += 2;
    if (records === 0) throw new RecordFormatError('a message without records');
    const first = o;
    for (let i = 0; i < records; i++) o = skipRecord(b, o, end);
    if (o !== end) throw new RecordFormatError(`${end - o} bytes after the last record`);
    this.seq = firstSeq(b, 0) - 1;
    this.group = b[12] | (b[13] << 8);
    if (this.sensorBytes.length !== sl || this.sensorBytes.compare(b, HEADER, HEADER + sl) !== 0) {
      this.sensorBytes = Buffer.from(b.subarray(HEADER, HEADER + sl));
      this.sensor = this.sensorBytes.toString('utf8');
    }
    this.b = b;
    this.o = first;
    this.derive = (b[2] & DERIVED_OMITTED) !== 0 && this.derived !== null && this.derived.needed;
    this.left = records;
    this.records = records;
    return records;
  }

  /** Decodes the next record of the open message into `rec` (cleared first); false when none is left. */
  next(rec: Record): boolean {
    if (this.left === 0) return false;
    this.left--;
    this.seq++;
    rec.clear();
    this.o = this.record(this.b, this.o, rec);
    if (this.derive) this.derived!.decode(this.b, this.src, rec);
    return true;
  }

  /** Reads one record at `o` (checked by open()) into `rec`; returns the offset after it. */
  private record(b: Buffer, o: number, rec: Record): number {
    const end = b.length;
    if (o + 2 > end) throw truncated();
    const count = b[o] | (b[o + 1] << 8);
    o += 2;
    if (this.derive) this.src.reset();
    for (let i = 0; i < count; i++) {
      if (o + 2 > end) throw truncated();
      let code = b[o++];
      if (code & 0x80) code = (code & 0x7f) | (b[o++] << 7);
      let key: Key | null | false | undefined = null;
      if (code === 0) {
        const nl = b[o++];
        if (o + nl + 1 > end) throw truncated();
        const name = b.toString('utf8', o, o + nl);
        key = this.byName.get(name);
        if (key === undefined) {
          key = this.lookup(name);
          this.byName.set(name, key);
        }
        o += nl;
      } else {
        key = this.byCode[code];
        if (key === undefined) {
          const name = KEY_CODES[code - 1];
          key = name === undefined ? false : this.lookup(name);
          this.byCode[code] = key;
        }
      }
      if (o >= end) throw truncated();
      const type = b[o++];
      const typeName = TYPE_CODES[type];
      if (typeName === undefined || type === 0) throw new RecordFormatError(`unknown value type ${type}`);
      const at = o;
      // A key nobody here reads is stepped over without making its value.
      if (key && key.type === typeName) o = this.value(b, o, end, type, key, rec);
      else o = skipValue(b, o, end, type);
      if (this.derive) this.note(code, type, b, at, o);
      if (key === false) this.unknownKeys++;
      else if (key && key.type !== typeName) this.typeMismatches++;
    }
    return o;
  }

  /** Keeps what making the derived keys needs: where raw.pkt, raw.mac and mac.saddr lie, the family and the link-layer protocol. */
  private note(code: number, type: number, b: Buffer, at: number, after: number): void {
    const src = this.src;
    if (code === RAW_PKT && type === 15) {
      src.pktEnd = after;
      src.pktOff = after - lengthRead;
    } else if (code === RAW_MAC && type === 15) {
      src.macEnd = after;
      src.macOff = after - lengthRead;
    } else if (code === MAC_SADDR && type === 13) {
      src.saddrEnd = after;
      src.saddrOff = after - lengthRead;
    } else if (code === OOB_FAMILY && type === 1) src.family = b[at];
    else if (code === OOB_PROTOCOL && type === 2) src.protocol = b[at] | (b[at + 1] << 8);
  }

  private lookup(name: string): Key | null | false {
    const k = this.resolve(name);
    return k === undefined ? false : k;
  }

  /** Reads one value at `o`, sets it when `key` is given; returns the offset after it. */
  private value(b: Buffer, o: number, end: number, type: number, key: Key | null, rec: Record): number {
    let v: unknown;
    let n: number;
    switch (type) {
      case 1:
        n = 1;
        v = b[o];
        break;
      case 4:
        n = 1;
        v = (b[o] << 24) >> 24;
        break;
      case 9:
        n = 1;
        v = b[o] !== 0;
        break;
      case 2:
        n = 2;
        v = b[o] | (b[o + 1] << 8);
        break;
      case 5:
        n = 2;
        v = ((b[o] | (b[o + 1] << 8)) << 16) >> 16;
        break;
      case 3:
      case 10:
        n = 4;
        if (o + 4 <= end) v = b.readUInt32LE(o);
        break;
      case 6:
        n = 4;
        if (o + 4 <= end) v = b.readInt32LE(o);
        break;
      case 7:
        n = 8;
        if (o + 8 <= end && key) v = b.readBigUInt64LE(o);
        break;
      case 8:
        n = 8;
        if (o + 8 <= end && key) v = b.readBigInt64LE(o);
        break;
      case 16:
        n = 8;
        if (o + 8 <= end) v = b.readDoubleLE(o);
        break;
      case 11:
        n = 16;
        if (o + 16 <= end && key) v = b.subarray(o, o + 16);
        break;
      case 12: {
        const fam = b[o++];
        if (fam === 4) {
          n = 4;
          if (o + 4 <= end) v = b.readUInt32LE(o);
        } else if (fam === 6) {
          n = 16;
          if (o + 16 <= end && key) v = b.subarray(o, o + 16);
        } else throw new RecordFormatError(`ipaddr family byte ${fam}`);
        break;
      }
      default: {
        // mac, raw, string: LEB128 length, then bytes.
        o = readLength(b, o, end);
        const len = lengthRead;
        n = len;
        if (o + len <= end && key) v = type === 14 ? bytesToText(b, o, o + len) : b.subarray(o, o + len);
      }
    }
    if (o + n > end) throw truncated();
    if (key) rec.set(key, v);
    return o + n;
  }
}

/** Bytes of each type's value: fixed, or -1 (a LEB128 length, then bytes), -2 (a family byte, then 4 or 16), -3 (no type). */
const VALUE_BYTES = Int8Array.from(TYPE_CODES, (t) => {
  switch (t) {
    case 'u8':
    case 'i8':
    case 'bool':
      return 1;
    case 'u16':
    case 'i16':
      return 2;
    case 'u32':
    case 'i32':
    case 'ipv4':
      return 4;
    case 'u64':
    case 'i64':
    case 'time':
      return 8;
    case 'ipv6':
      return 16;
    case 'ipaddr':
      return -2;
    case 'mac':
    case 'string':
    case 'raw':
      return -1;
    default:
      return -3;
  }
});

/** Walks one record at `o` without decoding it, refusing what the decoder would refuse; returns the offset after it. */
function skipRecord(b: Buffer, o: number, end: number): number {
  if (o + 2 > end) throw truncated();
  const count = b[o] | (b[o + 1] << 8);
  o += 2;
  for (let i = 0; i < count; i++) {
    if (o + 2 > end) throw truncated();
    let code = b[o++];
    if (code & 0x80) code = (code & 0x7f) | (b[o++] << 7);
    if (code === 0) {
      if (o >= end) throw truncated();
      o += 1 + b[o];
    }
    if (o >= end) throw truncated();
    o = skipValue(b, o + 1, end, b[o]);
  }
  return o;
}

/** Steps over one value of `type` at `o`, refusing what the decoder would refuse; returns the offset after it. */
function skipValue(b: Buffer, o: number, end: number, type: number): number {
  const n = type < VALUE_BYTES.length ? VALUE_BYTES[type] : -3;
  if (n >= 0) o += n;
  else if (n === -1) {
    o = readLength(b, o, end);
    o += lengthRead;
  } else if (n === -2) {
    const fam = b[o++];
    if (fam === 4) o += 4;
    else if (fam === 6) o += 16;
    else throw new RecordFormatError(`ipaddr family byte ${fam}`);
  } else throw new RecordFormatError(`unknown value type ${type}`);
  if (o > end) throw truncated();
  return o;
}

/** The length readLength() read last (a second result without an object per value). */
let lengthRead = 0;

/** Reads a LEB128 length at `o` into lengthRead; returns the offset after it. */
function readLength(b: Buffer, o: number, end: number): number {
  let len = 0;
  let shift = 0;
  for (;;) {
    if (o >= end || shift > 28) throw truncated();
    const c = b[o++];
    len += (c & 0x7f) * 2 ** shift;
    if (c < 0x80) break;
    shift += 7;
  }
  lengthRead = len;
  return o;
}

function truncated(): RecordFormatError {
  return new RecordFormatError('truncated record');
}
