import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Packet } from '../../src/core/packet.js';
import { cfg, decodeDatagram, encodeConfig } from '../../src/nflog/codec.js';
import { CMD, NFULA_CFG } from '../../src/nflog/constants.js';
import { ROOT } from '../daemon.js';

// Captured from the kernel: an ICMP echo request on lo, input hook, logged to group 1
// with prefix "P: " after `meta mark set 7`, sequence numbers on.
const fixture = fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nflog', 'ipv4-icmp-echo-mark.bin'));

function decode(buf: Buffer) {
  const stats = { packets: 0, malformed: 0 };
  const seen: Array<{ prefix: string; payloadLen: number; seq: number }> = [];
  const pkt = new Packet();
  decodeDatagram(buf, pkt, (p) => seen.push({ prefix: p.prefix(), payloadLen: p.payloadLen, seq: p.seqLocal }), stats);
  return { stats, seen, pkt };
}

describe('nfnetlink_log decoding', () => {
  it('decodes every attribute of a captured kernel message', () => {
    const pkt = new Packet();
    const stats = { packets: 0, malformed: 0 };
    let got: Packet | null = null;
    decodeDatagram(
      fixture,
      pkt,
      (p) => {
        got = p;
      },
      stats,
    );
    assert.ok(got);
    assert.equal(stats.packets, 1);
    assert.equal(stats.malformed, 0);
    assert.equal(pkt.family, 2);
    assert.equal(pkt.group, 1);
    assert.equal(pkt.hook, 1);
    assert.equal(pkt.hwProtocol, 0x0800);
    assert.equal(pkt.indev, 1);
    assert.equal(pkt.outdev, -1);
    assert.equal(pkt.prefix(), 'P: ');
    assert.equal(pkt.mark, 7);
    assert.equal(pkt.seqLocal, 0);
    assert.equal(pkt.hwType, 772); // ARPHRD_LOOPBACK
    assert.equal(pkt.hwLen, 14);
    assert.equal(pkt.hwHeaderLen, 14);
    assert.ok(pkt.tsSec > 1_600_000_000, 'a kernel timestamp');
    assert.ok(pkt.tsUsec >= 0 && pkt.tsUsec < 1_000_000);
    const payload = pkt.payload();
    assert.equal(payload.length, 84);
    assert.equal(payload[0], 0x45);
    assert.equal(payload[9], 1); // ICMP
    assert.equal(payload.readUInt32BE(12), 0x7f000001);
  });

  it('counts a datagram cut short as malformed and does not throw', () => {
    const { stats, seen } = decode(fixture.subarray(0, 100));
    assert.equal(seen.length, 0);
    assert.equal(stats.malformed, 1);
  });

  it('counts a message whose length runs past the datagram', () => {
    const bad = Buffer.from(fixture);
    bad.writeUInt32LE(fixture.length + 64, 0);
    const { stats, seen } = decode(bad);
    assert.deepEqual([seen.length, stats.malformed], [0, 1]);
  });

  it('skips a message with a broken attribute and decodes the good ones around it', () => {
    const broken = Buffer.from(fixture);
    // The first attribute (after nlmsghdr and nfgenmsg) claims more bytes than the message has.
    broken.writeUInt16LE(0x7ff0, 20);
    const { stats, seen } = decode(Buffer.concat([fixture, broken, fixture]));
    assert.equal(stats.malformed, 1);
    assert.deepEqual(
      seen.map((s) => s.prefix),
      ['P: ', 'P: '],
    );
  });

  it('counts trailing garbage shorter than a header', () => {
    const { stats, seen } = decode(Buffer.concat([fixture, Buffer.from([1, 2, 3])]));
    assert.deepEqual([seen.length, stats.malformed], [1, 1]);
  });

  it('hands acknowledgements to the socket layer', () => {
    const ack = Buffer.alloc(36);
    ack.writeUInt32LE(36, 0);
    ack.writeUInt16LE(2, 4); // NLMSG_ERROR
    ack.writeInt32LE(-16, 16); // -EBUSY
    ack.writeUInt32LE(4242, 16 + 4 + 8); // sequence number of the request
    const acks: Array<[number, number]> = [];
    decodeDatagram(
      ack,
      new Packet(),
      () => undefined,
      { packets: 0, malformed: 0 },
      (seq, errno) => acks.push([seq, errno]),
    );
    assert.deepEqual(acks, [[4242, 16]]);
  });
});

describe('nfnetlink_log configuration messages', () => {
  it('encodes a bind request as the kernel expects', () => {
    const m = encodeConfig(9, 0, 513, [cfg.cmd(CMD.BIND)]);
    assert.equal(m.length, 16 + 4 + 8);
    assert.equal(m.readUInt32LE(0), m.length);
    assert.equal(m.readUInt16LE(4), (4 << 8) | 1); // NFNL_SUBSYS_ULOG, NFULNL_MSG_CONFIG
    assert.equal(m.readUInt16LE(6), 1 | 4); // NLM_F_REQUEST | NLM_F_ACK
    assert.equal(m.readUInt32LE(8), 9);
    assert.equal(m.readUInt16BE(18), 513); // res_id: the group, big endian
    assert.deepEqual([m.readUInt16LE(20), m.readUInt16LE(22), m[24]], [5, 1, CMD.BIND]);
  });

  it('encodes mode, buffer size and flags big endian, each attribute 4-byte aligned', () => {
    const m = encodeConfig(1, 0, 1, [cfg.mode(2, 0xffff), cfg.u32(NFULA_CFG.NLBUFSIZ, 131072), cfg.flags(1)]);
    assert.deepEqual([m.readUInt16LE(20), m.readUInt16LE(22), m.readUInt32BE(24), m[28]], [10, NFULA_CFG.MODE, 0xffff, 2]);
    assert.deepEqual([m.readUInt16LE(32), m.readUInt16LE(34), m.readUInt32BE(36)], [8, NFULA_CFG.NLBUFSIZ, 131072]);
    assert.deepEqual([m.readUInt16LE(40), m.readUInt16LE(42), m.readUInt16BE(44)], [6, NFULA_CFG.FLAGS, 1]);
    assert.equal(m.length, 48);
  });
});
