/**
 * SocketSink against a real peer that accepts and then stops reading: the
 * bytes held stay under the limit, every record not delivered is counted as
 * dropped, and once the peer reads again it receives the rest, in order.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import pino from 'pino';
import { Counters } from '../../src/core/counters.js';
import { SocketSink, type Endpoint } from '../../src/core/socket-sink.js';
import { tempDir } from '../daemon.js';
import { waitFor } from '../netns.js';

const dir = tempDir('specter-socket-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const LIMIT = 1 << 20;
const RECORD = 1000;
/** Far more than the peer's and our kernel socket buffers hold together. */
const TOTAL = 40000;

/** A peer that accepts one connection and pauses it at once; resume() lets it read on. */
async function pausedPeer(listen: (s: net.Server) => Promise<Endpoint>) {
  let conn: net.Socket | null = null;
  const chunks: Buffer[] = [];
  const server = net.createServer((c) => {
    conn = c;
    c.pause();
    c.on('data', (d) => chunks.push(d));
  });
  const ep = await listen(server);
  return {
    ep,
    connected: () => conn !== null,
    resume: () => conn!.resume(),
    lines: () => Buffer.concat(chunks).toString('latin1').split('\n').filter(Boolean),
    close: () => {
      conn?.destroy();
      server.close();
    },
  };
}

const record = (i: number) => Buffer.from(`${String(i).padStart(8, '0')} ${'x'.repeat(RECORD - 10)}\n`, 'latin1');

const PEERS: Array<[string, (s: net.Server) => Promise<Endpoint>]> = [
  ['TCP', (s) => new Promise((r) => s.listen(0, '127.0.0.1', () => r({ kind: 'tcp', host: '127.0.0.1', port: (s.address() as net.AddressInfo).port })))],
  [
    'a Unix stream socket',
    (s) => {
      const p = path.join(dir, `peer-${process.hrtime.bigint()}.sock`);
      return new Promise((r) => s.listen(p, () => r({ kind: 'unix', path: p })));
    },
  ],
];

describe('SocketSink with a peer that stops reading', () => {
  for (const [name, listen] of PEERS) {
    it(`over ${name}: bounded in bytes, drops counted, the rest delivered in order`, async () => {
      const peer = await pausedPeer(listen);
      const counters = new Counters();
      const sink = new SocketSink(peer.ep, LIMIT, counters, pino({ level: 'silent' }));
      try {
        sink.start();
        await waitFor(peer.connected, 5000, 'the connection');
        let most = 0;
        for (let i = 0; i < TOTAL; i++) {
          sink.send(record(i), 1);
          most = Math.max(most, sink.bufferedBytes);
          // Let the socket write between batches, as the daemon's event loop does between datagrams.
          if (i % 200 === 199) await new Promise((r) => setImmediate(r));
        }
        assert.ok(most <= LIMIT, `held at most ${most} bytes, limit ${LIMIT}`);
        assert.ok(counters.dropped > 0, 'a peer that does not read makes records drop');

        peer.resume();
        await sink.flush();
        assert.equal(sink.bufferedBytes, 0);
        const lines = await waitFor(
          () => {
            const l = peer.lines();
            return l.length === counters.sent ? l : null;
          },
          10000,
          'every record sent',
        );
        assert.equal(counters.sent + counters.dropped, TOTAL, 'each record sent or counted as dropped');
        assert.equal(lines.length, TOTAL - counters.dropped, 'the peer has every record not dropped');
        const seqs = lines.map((l) => Number(l.slice(0, 8)));
        assert.ok(
          seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
          'in order, none twice',
        );
        assert.ok(
          lines.every((l) => l.length === RECORD - 1),
          'no record torn',
        );
        await sink.close();
        assert.equal(counters.sent + counters.dropped, TOTAL);
      } finally {
        peer.close();
      }
    });
  }

  it('counts what the peer never took as dropped at close, without waiting', async () => {
    const peer = await pausedPeer(PEERS[0][1]);
    const counters = new Counters();
    const sink = new SocketSink(peer.ep, LIMIT, counters, pino({ level: 'silent' }));
    try {
      sink.start();
      await waitFor(peer.connected, 5000, 'the connection');
      for (let i = 0; i < TOTAL; i++) {
        sink.send(record(i), 1);
        if (i % 200 === 199) await new Promise((r) => setImmediate(r));
      }
      assert.ok(sink.bufferedBytes > 0);
      const t0 = Date.now();
      await sink.close();
      assert.ok(Date.now() - t0 < 1000, 'close() does not wait for the peer');
      assert.equal(counters.sent + counters.dropped, TOTAL);
      assert.equal(sink.bufferedBytes, 0);
    } finally {
      peer.close();
    }
  });
});
