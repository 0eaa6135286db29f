import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeDatagram, encodeDump } from '../../plugins/source/NFCT/codec.js';
import { EVENT, MSG_CT_GET, NLM_F_DUMP } from '../../plugins/source/NFCT/constants.js';
import { Flow } from '../../plugins/source/NFCT/flow.js';
import { ROOT } from '../daemon.js';

const fixture = (name: string) => fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nfct', name));

/** Decodes one datagram and returns copies of what the flows held. */
function decode(buf: Buffer) {
  const stats = { flows: 0, malformed: 0 };
  const flows: Array<ReturnType<typeof snapshot>> = [];
  decodeDatagram(buf, new Flow(), { flow: (f) => flows.push(snapshot(f)) }, stats);
  return { stats, flows };
}

function snapshot(f: Flow) {
  const addr = (off: number, len: number) =>
    len === 4 ? [...f.buf.subarray(off, off + 4)].join('.') : len === 16 ? f.buf.subarray(off, off + 16).toString('hex') : '';
  const tuple = (t: Flow['orig']) => ({
    src: addr(t.srcOff, t.addrLen),
    dst: addr(t.dstOff, t.addrLen),
    proto: t.proto,
    sport: t.sport,
    dport: t.dport,
    icmpType: t.icmpType,
    icmpCode: t.icmpCode,
    icmpId: t.icmpId,
  });
  return {
    event: f.event,
    family: f.family,
    orig: tuple(f.orig),
    reply: tuple(f.reply),
    status: f.status,
    mark: f.mark,
    id: f.id,
    counters: [f.origPackets, f.origBytes, f.replyPackets, f.replyBytes],
    start: [f.startSec, f.startNsec],
    stop: [f.stopSec, f.stopNsec],
    tcpState: f.tcpState,
    timeout: f.timeout,
  };
}

/** The nanoseconds of CTA_TIMESTAMP_START/STOP read with BigInt straight from the bytes (independent of the codec). */
function timestamps(buf: Buffer): bigint[] {
  const out: bigint[] = [];
  // CTA_TIMESTAMP (20) nests START (1) and STOP (2), each 8 bytes: find the nest by its header.
  for (let o = 20; o + 4 <= buf.length; o += 4) {
    if (buf.readUInt16LE(o + 2) === (20 | 0x8000) && buf.readUInt16LE(o) >= 16) {
      for (let a = o + 4; a < o + buf.readUInt16LE(o); a += 12) out.push(buf.readBigUInt64BE(a + 4));
      return out;
    }
  }
  return out;
}

describe('nfnetlink_conntrack decoding', () => {
  it('decodes a DNAT flow at its end: both tuples, counters, start and stop, the event', () => {
    const { stats, flows } = decode(fixture('ipv4-udp-dnat-destroy.bin'));
    assert.deepEqual(stats, { flows: 1, malformed: 0 });
    const f = flows[0];
    assert.equal(f.event, EVENT.DESTROY);
    assert.equal(f.family, 2);
    assert.deepEqual(f.orig, { src: '10.99.0.1', dst: '10.99.0.1', proto: 17, sport: f.orig.sport, dport: 5353, icmpType: -1, icmpCode: -1, icmpId: -1 });
    // The reply comes from where the DNAT rule sent it, to the original source port.
    assert.deepEqual(f.reply, { src: '127.0.0.1', dst: '10.99.0.1', proto: 17, sport: 53, dport: f.orig.sport, icmpType: -1, icmpCode: -1, icmpId: -1 });
    assert.ok(f.status & 0x20, 'IPS_DST_NAT');
    assert.deepEqual(f.counters, [1, 31, 0, 0]); // one datagram of "hi\n": 20 + 8 + 3 bytes
    const [start, stop] = timestamps(fixture('ipv4-udp-dnat-destroy.bin'));
    assert.deepEqual(f.start, [Number(start / 1_000_000_000n), Number(start % 1_000_000_000n)]);
    assert.deepEqual(f.stop, [Number(stop / 1_000_000_000n), Number(stop % 1_000_000_000n)]);
    assert.ok(start <= stop);
    assert.ok(f.id > 0);
  });

  it('decodes ICMP type, code and id, and tells NEW from DESTROY', () => {
    const neu = decode(fixture('ipv4-icmp-new.bin')).flows[0];
    const end = decode(fixture('ipv4-icmp-destroy.bin')).flows[0];
    assert.equal(neu.event, EVENT.NEW);
    assert.equal(end.event, EVENT.DESTROY);
    assert.equal(neu.id, end.id, 'the same connection');
    assert.deepEqual([neu.orig.proto, neu.orig.icmpType, neu.orig.icmpCode, neu.orig.sport], [1, 8, 0, -1]);
    assert.deepEqual([end.reply.icmpType, end.reply.icmpId], [0, end.orig.icmpId]);
    assert.deepEqual(neu.counters, [-1, -1, -1, -1], 'a NEW event carries no counters');
    assert.deepEqual(neu.start, [-1, -1]);
    assert.deepEqual(end.counters, [1, 84, 1, 84]);
  });

  it('decodes IPv6 addresses and ICMPv6', () => {
    const f = decode(fixture('ipv6-icmpv6-destroy.bin')).flows[0];
    assert.equal(f.family, 10);
    assert.equal(f.orig.src, '00000000000000000000000000000001');
    assert.deepEqual([f.orig.proto, f.orig.icmpType, f.reply.icmpType], [58, 128, 129]);
    const t = decode(fixture('ipv6-tcp-destroy.bin')).flows[0];
    assert.deepEqual([t.orig.proto, t.orig.dport, t.reply.sport], [6, 8081, 8081]);
    assert.equal(t.counters.length, 4);
    assert.ok(t.counters.every((c) => c > 0));
  });

  it('decodes TCP state and UPDATE events, the mark, and a dump answer as no event', () => {
    const u = decode(fixture('ipv4-tcp-update.bin')).flows[0];
    assert.equal(u.event, EVENT.UPDATE);
    assert.equal(u.tcpState, 2); // TCP_CONNTRACK_SYN_RECV
    assert.equal(decode(fixture('ipv4-tcp-destroy.bin')).flows[0].tcpState, 7); // TIME_WAIT
    assert.equal(decode(fixture('ipv4-udp-mark-destroy.bin')).flows[0].mark, 42);
    const d = decode(fixture('dump-udp.bin')).flows[0];
    assert.equal(d.event, 0);
    assert.equal(d.orig.dport, 6666);
    assert.ok(d.timeout > 0);
  });

  it('decodes several messages of one datagram', () => {
    const both = Buffer.concat([fixture('ipv4-icmp-new.bin'), fixture('ipv4-tcp-destroy.bin')]);
    const { stats, flows } = decode(both);
    assert.deepEqual(stats, { flows: 2, malformed: 0 });
    assert.deepEqual(
      flows.map((f) => f.orig.proto),
      [1, 6],
    );
  });

  it('counts a message cut short or with an attribute overrunning it as malformed, never throwing', () => {
    const buf = fixture('ipv4-tcp-destroy.bin');
    assert.deepEqual(decode(buf.subarray(0, 100)).stats, { flows: 0, malformed: 1 });
    const bad = Buffer.from(buf);
    bad.writeUInt16LE(0x7ff0, 20); // the first attribute's length runs past the message
    assert.deepEqual(decode(bad).stats, { flows: 0, malformed: 1 });
    const trailing = Buffer.concat([buf, Buffer.alloc(8)]);
    assert.deepEqual(decode(trailing).stats, { flows: 1, malformed: 1 });
  });

  it('gives a tuple missing one of its addresses no address pair (found by the fuzz test)', () => {
    const buf = Buffer.from(fixture('ipv4-udp-dnat-destroy.bin'));
    // The first CTA_IP_V4_SRC (type 1, length 8) of the original tuple becomes an unknown attribute.
    const at = buf.indexOf(Buffer.from([8, 0, 1, 0]), 20);
    buf.writeUInt16LE(0x81, at + 2);
    const flow = new Flow();
    const seen: number[] = [];
    decodeDatagram(fixture('ipv6-tcp-destroy.bin'), flow, { flow: () => {} }, { flows: 0, malformed: 0 });
    decodeDatagram(buf, flow, { flow: (f) => seen.push(f.orig.addrLen, f.reply.addrLen) }, { flows: 0, malformed: 0 });
    assert.deepEqual(seen, [0, 4]);
  });

  it('leaves a timestamp of zero or past 32-bit seconds absent', () => {
    const buf = Buffer.from(fixture('ipv4-udp-dnat-destroy.bin'));
    const [start] = timestamps(buf);
    const at = buf.indexOf(Buffer.from(start.toString(16).padStart(16, '0'), 'hex'));
    buf.writeBigUInt64BE(0n, at);
    assert.deepEqual(decode(buf).flows[0].start, [-1, -1]);
    buf.writeBigUInt64BE(0xffffffffffffffffn, at);
    assert.deepEqual(decode(buf).flows[0].start, [-1, -1]);
  });

  it('encodes a dump request for the whole table', () => {
    const b = encodeDump(77, 2);
    assert.equal(b.readUInt32LE(0), b.length);
    assert.equal(b.readUInt16LE(4), MSG_CT_GET);
    assert.equal(b.readUInt16LE(6) & NLM_F_DUMP, NLM_F_DUMP);
    assert.equal(b.readUInt32LE(8), 77);
    assert.equal(b[16], 2);
  });
});
