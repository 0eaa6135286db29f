/**
 * The encoder's counters: the 32-bit template while all four fit, the 64-bit
 * one as soon as one does not, exact at and beyond 2^53 (from a bigint), 0
 * when absent; and a record that is no IP flow writes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Key, Record } from 'specter/plugin';
import { FlowEncoder, type FlowKeys } from './encoder.js';
import { MessageBuilder } from './message.js';
import { MESSAGE_HEADER, recordLength, SET_HEADER, TEMPLATE_IPV4, TEMPLATE_IPV4_COUNT32, TEMPLATES } from './template.js';

const names: Array<keyof FlowKeys> = ['origSaddr', 'origDaddr', 'origPkts', 'origBytes', 'replyPkts', 'replyBytes', 'ctId'];
const keys = Object.fromEntries(names.map((n, slot) => [n, { name: n, type: 'u64', slot } as Key])) as unknown as FlowKeys;

/** Encodes one record with the counters given (absent when undefined); the message and a reader of its first record's fields. */
function encode(counters: Array<bigint | number | undefined>) {
  const rec = new Record(names.length);
  rec.set(keys.origSaddr, 0x0a000001);
  rec.set(keys.origDaddr, 0xc0000201);
  [keys.origPkts, keys.origBytes, keys.replyPkts, keys.replyBytes].forEach((k, i) => {
    if (counters[i] !== undefined) rec.set(k!, counters[i]);
  });
  rec.set(keys.ctId!, 0xfedcba98);
  const msg = new MessageBuilder(1400, 0);
  assert.ok(new FlowEncoder(keys).encode(rec, msg));
  msg.finish();
  const data = msg.take()[0].data;
  const set = data.readUInt16BE(MESSAGE_HEADER);
  const fields = TEMPLATES.get(set)!;
  assert.equal(data.readUInt16BE(MESSAGE_HEADER + 2), SET_HEADER + recordLength(fields), 'one record of the template');
  const field = (name: string): bigint => {
    let o = MESSAGE_HEADER + SET_HEADER;
    for (const f of fields) {
      if (f.name === name) return f.length === 8 ? data.readBigUInt64BE(o) : BigInt(data.readUIntBE(o, f.length));
      o += f.length;
    }
    throw new Error(name);
  };
  return { set, field };
}

const COUNTERS = ['packetDeltaCount', 'octetDeltaCount', 'reversePacketDeltaCount', 'reverseOctetDeltaCount'];

describe('IPFIX encoder', () => {
  it('writes counters that all fit in 32 bits in the 32-bit template, a missing one as 0', () => {
    const r = encode([3n, 0xffffffffn, undefined, 7]);
    assert.equal(r.set, TEMPLATE_IPV4_COUNT32);
    assert.deepEqual(
      COUNTERS.map((c) => r.field(c)),
      [3n, 0xffffffffn, 0n, 7n],
    );
    assert.equal(r.field('sourceIPv4Address'), 0x0a000001n);
    assert.equal(r.field('flowId'), 0xfedcba98n);
  });

  it('writes all four in 64 bits once one does not fit, exactly past 2^53 too', () => {
    const r = encode([2n ** 53n - 1n, 2n ** 64n - 3n, 0x1_2345_6789, undefined]);
    assert.equal(r.set, TEMPLATE_IPV4);
    assert.deepEqual(
      COUNTERS.map((c) => r.field(c)),
      [2n ** 53n - 1n, 2n ** 64n - 3n, 0x1_2345_6789n, 0n],
    );
    assert.equal(encode([0x1_0000_0000n, 1n, 1n, 1n]).set, TEMPLATE_IPV4);
  });

  it('writes nothing for a record without a source address', () => {
    const rec = new Record(names.length);
    rec.set(keys.origDaddr, 1);
    const msg = new MessageBuilder(1400, 0);
    assert.equal(new FlowEncoder(keys).encode(rec, msg), false);
    assert.equal(msg.open, false);
  });
});
