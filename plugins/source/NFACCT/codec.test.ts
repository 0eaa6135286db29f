/**
 * The nfnetlink_acct codec: the dump request as `nfacct list [reset]` sends
 * it, objects decoded from messages laid out as the kernel's
 * nfnl_acct_fill_info() writes them (several per datagram, the end of the
 * dump, a refusal), and broken input counted, never thrown.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type AcctObject, decodeDatagram, encodeDump } from './codec.js';

const attr = (type: number, data: Buffer): Buffer => {
  const len = 4 + data.length;
  const b = Buffer.alloc((len + 3) & ~3);
  b.writeUInt16LE(len, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
};
const u64 = (n: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(n);
  return b;
};
const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
};

/** One netlink message: header, nfgenmsg, attributes. */
function msg(type: number, seq: number, attrs: Buffer[], flags = 0x2 /* NLM_F_MULTI */): Buffer {
  const body = Buffer.concat([Buffer.from([0, 0, 0, 0]), ...attrs]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(16 + body.length, 0);
  h.writeUInt16LE(type, 4);
  h.writeUInt16LE(flags, 6);
  h.writeUInt32LE(seq, 8);
  return Buffer.concat([h, body]);
}

const ACCT_NEW = 7 << 8;
/** An object as the kernel writes it: name (with its NUL), packets, bytes, use, flags, padding. */
const object = (seq: number, name: string, pkts: bigint, bytes: bigint) =>
  msg(ACCT_NEW, seq, [attr(1, Buffer.from(`${name}\0`)), attr(2, u64(pkts)), attr(3, u64(bytes)), attr(4, u32(1)), attr(5, u32(0))]);
const done = (seq: number) => msg(3, seq, [Buffer.alloc(0)]);
const error = (seq: number, errno: number) => {
  const b = Buffer.alloc(36);
  b.writeUInt32LE(36, 0);
  b.writeUInt16LE(2, 4);
  b.writeInt32LE(-errno, 16);
  b.writeUInt32LE(36, 20);
  b.writeUInt32LE(seq, 28);
  return b;
};

function decode(buf: Buffer) {
  const objects: Array<[string, bigint, bigint]> = [];
  const ends: number[] = [];
  const errors: Array<[number, number]> = [];
  const stats = { objects: 0, malformed: 0 };
  const obj: AcctObject = { name: '', pkts: 0n, bytes: 0n };
  decodeDatagram(
    buf,
    obj,
    {
      object: (o) => objects.push([o.name, o.pkts, o.bytes]),
      done: (seq) => ends.push(seq),
      error: (seq, errno) => errors.push([seq, errno]),
    },
    stats,
  );
  return { objects, ends, errors, stats };
}

describe('nfnetlink_acct codec', () => {
  it('asks for a dump of every object, zeroing them with reset', () => {
    for (const [reset, type] of [
      [false, 1],
      [true, 2],
    ] as const) {
      const b = encodeDump(77, reset);
      assert.equal(b.length, 20);
      assert.deepEqual([b.readUInt32LE(0), b.readUInt16LE(4), b.readUInt16LE(6), b.readUInt32LE(8)], [20, (7 << 8) | type, 0x301, 77]);
      assert.deepEqual([...b.subarray(16)], [0, 0, 0, 0], 'AF_UNSPEC, version 0, res_id 0');
    }
  });

  it('decodes every object of a datagram and the end of the dump', () => {
    const big = 0x1_0000_0001n;
    const r = decode(Buffer.concat([object(5, 'http-in', 12n, 3456n), object(5, 'x', big, big * 1500n), object(5, 'idle', 0n, 0n), done(5)]));
    assert.deepEqual(r.objects, [
      ['http-in', 12n, 3456n],
      ['x', big, big * 1500n],
      ['idle', 0n, 0n],
    ]);
    assert.deepEqual(r.ends, [5]);
    assert.deepEqual(r.stats, { objects: 3, malformed: 0 });
  });

  it('reports a refused request with its errno', () => {
    const r = decode(error(9, 1));
    assert.deepEqual(r.errors, [[9, 1]]);
    assert.equal(r.stats.malformed, 0);
  });

  it('counts a message without a counter, with a bad attribute or a cut length, and goes on', () => {
    const noBytes = msg(ACCT_NEW, 1, [attr(1, Buffer.from('a\0')), attr(2, u64(1n))]);
    const shortCounter = msg(ACCT_NEW, 1, [attr(1, Buffer.from('b\0')), attr(2, u32(1)), attr(3, u64(1n))]);
    const badAttr = object(1, 'c', 1n, 1n);
    badAttr.writeUInt16LE(200, 20); // the name attribute claims more than the message holds
    const r = decode(Buffer.concat([noBytes, shortCounter, badAttr, object(1, 'ok', 2n, 3n)]));
    assert.deepEqual(r.objects, [['ok', 2n, 3n]]);
    assert.equal(r.stats.malformed, 3);
    const cut = object(1, 'd', 1n, 1n).subarray(0, 30);
    assert.equal(decode(cut).stats.malformed, 1);
  });

  it('never throws on mutated datagrams', () => {
    const base = Buffer.concat([object(3, 'one', 1n, 2n), object(3, 'two', 3n, 4n), done(3)]);
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x80000000;
    for (let i = 0; i < 20000; i++) {
      const b = Buffer.from(base.subarray(0, Math.floor(rand() * (base.length + 1))));
      for (let j = 0; j < 1 + Math.floor(rand() * 4); j++) if (b.length) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
      const r = decode(b);
      for (const [name] of r.objects) assert.equal(typeof name, 'string');
    }
  });
});
