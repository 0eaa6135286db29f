/**
 * The encoder's 64-bit fields: counters as bigint or number, exact at and
 * beyond 2^53 (from a bigint), 0 when absent; and a record that is no IP flow
 * writes nothing.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Key, Record } from 'specter/plugin';
import { FlowEncoder, type FlowKeys } from './encoder.js';
import { MessageBuilder } from './message.js';
import { FIELDS_IPV4, MESSAGE_HEADER, SET_HEADER } from './template.js';

const names: Array<keyof FlowKeys> = ['origSaddr', 'origDaddr', 'origPkts', 'origBytes', 'replyPkts', 'replyBytes', 'ctId'];
const keys = Object.fromEntries(names.map((n, slot) => [n, { name: n, type: 'u64', slot } as Key])) as unknown as FlowKeys;

/** Where a field of the IPv4 template starts in the first record of a message. */
function offset(field: string): number {
  let o = MESSAGE_HEADER + SET_HEADER;
  for (const f of FIELDS_IPV4) {
    if (f.name === field) return o;
    o += f.length;
  }
  throw new Error(field);
}

describe('IPFIX encoder', () => {
  it('writes counters from bigints and numbers exactly, beyond 2^53 too, and 0 for a missing one', () => {
    const rec = new Record(names.length);
    rec.set(keys.origSaddr, 0x0a000001);
    rec.set(keys.origDaddr, 0xc0000201);
    rec.set(keys.origPkts!, 2n ** 53n - 1n);
    rec.set(keys.origBytes!, 2n ** 64n - 3n);
    rec.set(keys.replyPkts!, 0x1_2345_6789);
    rec.set(keys.ctId!, 7);
    const msg = new MessageBuilder(1400, 0);
    assert.ok(new FlowEncoder(keys).encode(rec, msg));
    msg.finish();
    const [m] = msg.take();
    const u64 = (field: string) => m.data.readBigUInt64BE(offset(field));
    assert.equal(m.data.readUInt32BE(offset('sourceIPv4Address')), 0x0a000001);
    assert.equal(u64('packetDeltaCount'), 2n ** 53n - 1n);
    assert.equal(u64('octetDeltaCount'), 2n ** 64n - 3n);
    assert.equal(u64('reversePacketDeltaCount'), 0x1_2345_6789n);
    assert.equal(u64('reverseOctetDeltaCount'), 0n);
    assert.equal(u64('flowId'), 7n);
  });

  it('writes nothing for a record without a source address', () => {
    const rec = new Record(names.length);
    rec.set(keys.origDaddr, 1);
    const msg = new MessageBuilder(1400, 0);
    assert.equal(new FlowEncoder(keys).encode(rec, msg), false);
    assert.equal(msg.open, false);
  });
});
