/**
 * Inputs the fuzz test (nflog.fuzz.test.ts) found breaking an invariant, each
 * run through every stage and its checks (nflog-stages.ts) and then checked
 * for what the fix gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NFULA } from '../../src/nflog/constants.js';
import { encodeMessage } from './nflog-mutate.js';
import { ipv4, udp } from './nflog-seeds.js';
import { Stages } from './nflog-stages.js';

describe('nfnetlink_log fuzz: regressions', () => {
  const stages = new Stages();
  const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
  const be32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v);
    return b;
  };
  const hdr: [number, Buffer] = [NFULA.PACKET_HDR, hex('0800 01 00')];
  const udp4 = ipv4(17, udp(53, Buffer.from('query'))).bytes;

  it('a prefix with bytes after its NUL ends at the NUL', () => {
    stages.run(encodeMessage(2, [hdr, [NFULA.PREFIX, Buffer.from('out \0\0\0\0\b\0\f')], [NFULA.IFINDEX_INDEV, be32(1)], [NFULA.PAYLOAD, udp4]]));
    assert.equal(stages.value('oob.prefix'), 'out ');
    assert.match(stages.lastLine, /^out IN=lo OUT= /);
  });

  it('a timestamp with seconds past 32 bits is no time: the packet is stamped on arrival', () => {
    const before = Math.floor(Date.now() / 1000);
    stages.run(encodeMessage(2, [hdr, [NFULA.TIMESTAMP, hex('000000c5 68e77801 00000000 0001e240')], [NFULA.PAYLOAD, udp4]]));
    const sec = stages.value('oob.time.sec') as number;
    assert.ok(sec >= before && sec <= Math.floor(Date.now() / 1000), `oob.time.sec ${sec}`);
    stages.run(encodeMessage(2, [hdr, [NFULA.TIMESTAMP, hex('00000000 68e77801 00000000 0001e240')], [NFULA.PAYLOAD, udp4]]));
    assert.deepEqual([stages.value('oob.time.sec'), stages.value('oob.time.usec')], [0x68e77801, 123456]);
  });

  it('an IPv4 header longer than the captured bytes prints INCOMPLETE [0 bytes], never a negative count', () => {
    // IHL 11 (44 bytes) with 20 bytes captured
    stages.run(encodeMessage(2, [hdr, [NFULA.PAYLOAD, hex('4b000036 04d24000 40113333 c0a80102 c0a80101')]]));
    assert.match(stages.lastLine, / PROTO=UDP INCOMPLETE \[0 bytes\] $/);
  });
});
