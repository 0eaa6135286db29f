/** The forwarding encoding: every key type round-trips, keys by code and by name, garbage refused with a reason. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import BASE from '../../input/BASE/index.js';
import LOCAL from '../../input/LOCAL/index.js';
import PWSNIFF from '../../input/PWSNIFF/index.js';
import { KeyRegistry, type Key, type KeyType, Record } from 'specter/plugin';
import { KEY_CODES } from './key-codes.js';
import { ByteWriter, firstSeq, lastSeq, RecordDecoder, RecordEncoder, RecordFormatError, recordCount } from './record-codec.js';

const V6 = Uint8Array.from(Buffer.from('20010db8000000000000000000000001', 'hex'));
const MAC = Uint8Array.of(0x02, 0x42, 0xac, 0x11, 0x00, 0x02);

// Keys of every type: dictionary keys (by code) and others (by name).
const DEFS: Array<[string, KeyType, unknown]> = [
  ['oob.prefix', 'string', 'DROP caf\u00e9 \udcff\udc80 '],
  ['oob.time.sec', 'u32', 0xfffffffe],
  ['oob.hook', 'u8', 3],
  ['tcp.sport', 'u16', 65535],
  ['tcp.syn', 'bool', true],
  ['tcp.fin', 'bool', false],
  ['ip.saddr', 'ipaddr', 0xc0a80001],
  ['ip.daddr', 'ipaddr', V6],
  ['icmp.gateway', 'ipv4', 0x0a000001],
  ['mac.saddr', 'mac', MAC],
  ['raw.pkt', 'raw', new Uint8Array(300).map((_, i) => i & 0xff)],
  ['local.time', 'time', 1795987420123.5],
  ['x.i8', 'i8', -128],
  ['x.i16', 'i16', -2],
  ['x.i32', 'i32', -2147483648],
  ['x.u64', 'u64', 0xffffffffffffffffn],
  ['x.i64', 'i64', -(2n ** 63n)],
  ['x.ipv6', 'ipv6', V6],
  ['x.empty', 'string', ''],
  ['x.long', 'string', 'a'.repeat(20000)],
];

function registry(defs: Array<[string, KeyType, unknown]>) {
  const reg = new KeyRegistry();
  // Slots at the collector differ from the sensor's: a key first that the sensor does not have.
  if (defs !== DEFS) reg.register({ name: 'sensor.name', type: 'string' });
  const keys = defs.map(([name, type]) => reg.register({ name, type }));
  return { reg, keys };
}

function encodeOne(values: Array<[string, KeyType, unknown]> = DEFS, seq = 42) {
  const { reg, keys } = registry(DEFS);
  const rec = new Record(reg.size);
  for (const [name, , v] of values) rec.set(reg.get(name)!, v);
  const enc = new RecordEncoder(keys, reg.size, 'fw-edge-1', 7);
  const w = new ByteWriter(16);
  enc.begin(w);
  enc.add(rec);
  const n = enc.end(seq);
  assert.equal(n, w.pos);
  return Buffer.from(w.buf.subarray(0, n));
}

function decoderFor(reg: KeyRegistry) {
  return new RecordDecoder((name) => reg.get(name));
}

/** Decodes a message of one record into `rec`. */
function decodeOne(dec: RecordDecoder, msg: Buffer, rec: Record): void {
  assert.equal(dec.open(msg), 1);
  assert.equal(dec.next(rec), true);
  assert.equal(dec.next(rec), false);
}

const asPlain = (v: unknown) => (v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v);

describe('record encoding', () => {
  it('rebuilds every key with its type and value, header included', () => {
    const msg = encodeOne(DEFS, 2 ** 53 - 1);
    const { reg } = registry([...DEFS]);
    const rec = new Record(reg.size);
    const dec = decoderFor(reg);
    decodeOne(dec, msg, rec);
    assert.equal(dec.sensor, 'fw-edge-1');
    assert.equal(dec.seq, 2 ** 53 - 1);
    assert.equal(firstSeq(msg, 0), 2 ** 53 - 1);
    assert.equal(lastSeq(msg, 0), 2 ** 53 - 1);
    assert.equal(dec.group, 7);
    for (const [name, , v] of DEFS) assert.deepEqual(asPlain(rec.get(reg.get(name)!)), asPlain(v), name);
    assert.equal(dec.unknownKeys, 0);
    assert.equal(dec.typeMismatches, 0);
  });

  it('sends keys only when present, dictionary keys by a short code', () => {
    const small = encodeOne([
      ['tcp.sport', 'u16', 80],
      ['oob.hook', 'u8', 1],
    ]);
    // header 14 + "fw-edge-1" 9 + records 2 + keys 2 + (code, type, 2 bytes) + (code, type, 1 byte)
    assert.equal(small.length, 14 + 9 + 2 + 2 + 4 + 3);
    const named = encodeOne([['x.i8', 'i8', 1]]);
    assert.equal(named.length, 14 + 9 + 2 + 2 + 1 + 1 + 'x.i8'.length + 1 + 1);
    const { reg } = registry([...DEFS]);
    const rec = new Record(reg.size);
    decodeOne(decoderFor(reg), small, rec);
    assert.equal(rec.get(reg.get('tcp.sport')!), 80);
    assert.equal(rec.has(reg.get('oob.prefix')!), false);
  });

  it('has a code for every key of the built-in inputs', () => {
    for (const k of [...BASE.produces, ...LOCAL.produces, ...PWSNIFF.produces]) {
      assert.ok(KEY_CODES.includes(k.name), `${k.name} has no code`);
    }
    assert.ok(KEY_CODES.length < 0x4000, 'codes fit in two bytes');
  });

  it('skips keys unknown here and keys of another type, counting them, and sets the rest', () => {
    const msg = encodeOne();
    const reg = new KeyRegistry();
    const sport = reg.register({ name: 'tcp.sport', type: 'u16' });
    const hook = reg.register({ name: 'oob.hook', type: 'u32' });
    const rec = new Record(reg.size);
    const dec = decoderFor(reg);
    decodeOne(dec, msg, rec);
    assert.equal(rec.get(sport), 65535);
    assert.equal(rec.has(hook), false);
    assert.equal(dec.typeMismatches, 1);
    assert.equal(dec.unknownKeys, DEFS.length - 2);
  });

  it('sets only wanted keys', () => {
    const msg = encodeOne();
    const { reg } = registry([...DEFS]);
    const want = new Set(['tcp.sport', 'x.long']);
    const rec = new Record(reg.size);
    const dec = new RecordDecoder((n) => (want.has(n) ? reg.get(n)! : reg.get(n) ? null : undefined));
    decodeOne(dec, msg, rec);
    const set: string[] = [];
    rec.forEachSet((slot) => set.push(reg.all()[slot].name));
    assert.deepEqual(set.sort(), ['tcp.sport', 'x.long']);
    assert.equal(dec.unknownKeys, 0);
  });

  it('refuses garbage, other versions and every truncation with a reason, never reading past the end', () => {
    const { reg } = registry([...DEFS]);
    const rec = new Record(reg.size);
    const dec = decoderFor(reg);
    const refuse = (b: Buffer, why: RegExp) =>
      assert.throws(
        () => dec.open(b),
        (e) => e instanceof RecordFormatError && why.test(e.message),
      );
    refuse(Buffer.from('{"hello":"world"}'), /not a specter record/);
    refuse(Buffer.alloc(0), /not a specter record/);
    const msg = encodeOne();
    const v1 = Buffer.from(msg);
    v1[1] = 1;
    refuse(v1, /version 1/);
    const empty = Buffer.from(msg.subarray(0, 14 + 9 + 2));
    empty.writeUInt16LE(0, 14 + 9);
    refuse(empty, /without records/);
    for (let n = 1; n < msg.length; n++) refuse(msg.subarray(0, n), /./);
    refuse(Buffer.concat([msg, Buffer.from([0])]), /1 bytes after/);
    // Random corruption: either a record or a RecordFormatError, nothing else.
    let seed = 1;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
    for (let i = 0; i < 2000; i++) {
      const b = Buffer.from(msg);
      for (let j = 0; j < 3; j++) b[14 + 9 + (rand() % (b.length - 23))] = rand() & 0xff;
      try {
        const n = dec.open(b);
        for (let r = 0; r < n; r++) assert.ok(dec.next(rec));
      } catch (err) {
        assert.ok(err instanceof RecordFormatError, String(err));
      }
    }
  });

  it('carries a run of records in one message, numbered from its first sequence number, messages one after another', () => {
    const { reg, keys } = registry(DEFS);
    const rec = new Record(reg.size);
    const enc = new RecordEncoder(keys as Key[], reg.size, 's', 1);
    const w = new ByteWriter(8);
    const bounds: Array<[number, number]> = [];
    for (let m = 0; m < 3; m++) {
      const start = w.pos;
      enc.begin(w);
      for (let i = 0; i < 100; i++) {
        rec.clear();
        rec.set(reg.get('tcp.sport')!, m * 100 + i);
        if (i % 2) rec.set(reg.get('oob.prefix')!, 'p'.repeat(i));
        enc.add(rec);
      }
      enc.end(1000 * m);
      bounds.push([start, w.pos]);
    }
    const dec = decoderFor(reg);
    for (let m = 0; m < 3; m++) {
      const msg = w.buf.subarray(bounds[m][0], bounds[m][1]);
      assert.equal(recordCount(msg, 0), 100);
      assert.equal(lastSeq(msg, 0), 1000 * m + 99);
      assert.equal(dec.open(msg), 100);
      for (let i = 0; i < 100; i++) {
        assert.ok(dec.next(rec));
        assert.equal(dec.seq, 1000 * m + i);
        assert.equal(rec.get(reg.get('tcp.sport')!), m * 100 + i);
        assert.equal(rec.get(reg.get('oob.prefix')!), i % 2 ? 'p'.repeat(i) : undefined, 'a key of an earlier record does not stay');
      }
      assert.equal(dec.next(rec), false);
    }
  });

  it('refuses a message damaged in a later record before delivering any of it', () => {
    const { reg, keys } = registry(DEFS);
    const rec = new Record(reg.size);
    const enc = new RecordEncoder(keys as Key[], reg.size, 's', 1);
    const w = new ByteWriter(8);
    enc.begin(w);
    for (let i = 0; i < 10; i++) {
      rec.clear();
      rec.set(reg.get('tcp.sport')!, i);
      enc.add(rec);
    }
    const n = enc.end(5);
    const msg = Buffer.from(w.buf.subarray(0, n));
    // The last record's value type: an unknown one.
    msg[n - 3] = 0x7f;
    const dec = decoderFor(reg);
    assert.throws(() => dec.open(msg), /unknown value type/);
    assert.equal(dec.next(rec), false, 'nothing of the refused message is decoded');
  });
});
