/**
 * UdpSocket where the kernel refuses segmentation: in a namespace of its own
 * whose loopback has a 1280-byte MTU, runs of 1400-byte datagrams cannot be
 * cut by the stack (a segment must fit the MTU), so the socket falls back to
 * one datagram per entry, which IP fragments; every datagram still arrives
 * whole and in order.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetNs } from '../netns.js';

const MODULE = new URL('../../src/core/udp-socket.js', import.meta.url).href;

// Receives on a free port, sends 3 runs of 1400-byte datagrams and a short one, prints the lengths that arrived.
const SCRIPT = `
import dgram from 'node:dgram';
import { UdpSocket } from '${MODULE}';
const rx = dgram.createSocket('udp4');
const got = [];
rx.on('message', (m) => got.push(m));
await new Promise((r) => rx.bind(0, '127.0.0.1', r));
const sock = await UdpSocket.connect('127.0.0.1', rx.address().port, () => {});
const sent = [];
for (let i = 0; i < 30; i++) sent.push(Buffer.alloc(i === 29 ? 200 : 1400, i));
let taken = 0;
const results = [];
while (taken < sent.length) {
  const r = sock.send(sent, taken);
  results.push(r.error ? r.error.code : r.sent);
  if (r.error) break;
  taken += r.sent;
}
for (let t = 0; t < 100 && got.length < sent.length; t++) await new Promise((r) => setTimeout(r, 20));
console.log(JSON.stringify({ mtu: sock.mtu(), results, same: got.length === sent.length && got.every((b, i) => b.equals(sent[i])), lengths: got.map((b) => b.length) }));
sock.close();
rx.close();
`;

describe('UdpSocket on a route whose MTU is below the datagram size', () => {
  let ns: NetNs;
  before(() => {
    ns = new NetNs('spt-udp');
    ns.exec('ip', ['link', 'set', 'lo', 'mtu', '1280']);
  });
  after(() => ns.delete());

  it('falls back to one datagram per entry when segmentation is refused, and every datagram arrives whole', () => {
    const out = JSON.parse(ns.exec(process.execPath, ['--input-type=module', '-e', SCRIPT]));
    assert.equal(out.same, true, `arrived: ${out.lengths.join(',')}`);
    assert.ok(
      out.results.every((r: unknown) => typeof r === 'number'),
      `sends: ${out.results.join(',')}`,
    );
    assert.equal(out.mtu, 1280, "the route's MTU");
    // Without segmentation an entry is one datagram: at most 64 per call, so 30 go in one.
    assert.deepEqual(out.results, [30]);
  });
});
