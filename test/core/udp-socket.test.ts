/**
 * The plugin kit's UdpSocket against a real receiving socket: many datagrams
 * per call (runs of one length travel segmented), each arriving whole, alone
 * and in order; refusals reported on the send they stop.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { describe, it } from 'node:test';
import { UdpSocket } from '../../src/core/udp-socket.js';
import { waitFor } from '../netns.js';

/** A receiver on a free loopback port, collecting what arrives. */
async function receiver(type: 'udp4' | 'udp6' = 'udp4') {
  const sock = dgram.createSocket({ type, recvBufferSize: 8 * 1024 * 1024 });
  const got: Buffer[] = [];
  sock.on('message', (m) => got.push(m));
  await new Promise<void>((r) => sock.bind(0, type === 'udp4' ? '127.0.0.1' : '::1', r));
  return { port: sock.address().port, got, close: () => sock.close() };
}

/** Datagram i: `len` bytes, each i's low byte, the first two bytes (when there are two) i itself. */
function datagram(i: number, len: number): Buffer {
  const b = Buffer.alloc(len, i & 0xff);
  if (len >= 2) b.writeUInt16BE(i, 0);
  return b;
}

const noop = () => {};

describe('UdpSocket', () => {
  it('hands a batch to the kernel in one call: runs of one length, a shorter last one, lengths that change, all arrive whole and in order', async () => {
    const r = await receiver();
    const sock = await UdpSocket.connect('127.0.0.1', r.port, noop);
    // 150 full datagrams (more than one segmented run holds), a short one, then mixed lengths.
    const lens = [...Array.from({ length: 150 }, () => 1427), 300, 1427, 1427, 90, 2000, 2000, 64, 1];
    const sent = lens.map((len, i) => datagram(i, len));
    let taken = 0;
    while (taken < sent.length) {
      const res = sock.send(sent, taken);
      assert.equal(res.error, undefined);
      assert.ok(res.sent > 0);
      taken += res.sent;
    }
    await waitFor(() => r.got.length >= sent.length, 5000, 'every datagram');
    assert.deepEqual(
      r.got.map((b) => b.length),
      lens,
    );
    for (let i = 0; i < sent.length; i++) assert.ok(r.got[i].equals(sent[i]), `datagram ${i} arrived as sent`);
    sock.close();
    r.close();
  });

  it('sends over IPv6 and from an offset into the list', async () => {
    const r = await receiver('udp6');
    const sock = await UdpSocket.connect('::1', r.port, noop);
    const sent = [datagram(0, 10), datagram(1, 500), datagram(2, 500)];
    assert.deepEqual(sock.send(sent, 1), { sent: 2 });
    await waitFor(() => r.got.length >= 2, 5000, 'two datagrams');
    assert.deepEqual(r.got, sent.slice(1));
    sock.close();
    r.close();
  });

  it('reports a refusal (nothing listening) on the next send, as the error of the datagram it stopped', async () => {
    const r = await receiver();
    const port = r.port;
    r.close();
    const sock = await UdpSocket.connect('127.0.0.1', port, noop);
    assert.deepEqual(sock.send([datagram(0, 100)]), { sent: 1 });
    const refused = await waitFor(
      () => {
        const res = sock.send([datagram(1, 100), datagram(2, 100)]);
        return res.error ? res : null;
      },
      5000,
      'a refusal',
    );
    assert.equal(refused.error?.code, 'ECONNREFUSED');
    assert.equal(refused.sent, 0);
    sock.close();
  });

  it('refuses a host name that does not resolve, and sends nothing once closed', async () => {
    await assert.rejects(UdpSocket.connect('no-such-host.invalid', 4739, noop), /ENOTFOUND|EAI_AGAIN/);
    const r = await receiver();
    const sock = await UdpSocket.connect('127.0.0.1', r.port, noop);
    sock.close();
    assert.throws(() => sock.send([datagram(0, 10)]), /closed/);
    r.close();
  });
});
