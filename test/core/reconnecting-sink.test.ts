/**
 * ReconnectingSink against a real TCP peer that is away at first, comes up,
 * and goes away again: records wait in the bounded queue, what does not fit
 * is dropped and counted, everything queued arrives once the peer listens,
 * the log has a line when the failures start and one when they end, and
 * received = sent + dropped with every record committed.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import pino from 'pino';
import { Backoff } from '../../src/core/backoff.js';
import { Counters } from '../../src/core/counters.js';
import { ReconnectingSink, type Link } from '../../src/core/reconnecting-sink.js';
import { waitFor } from '../netns.js';

/** One line per item, written to a TCP connection; a batch is sent once the kernel took it. */
function tcpLink(port: number): Link<net.Socket, string> {
  return {
    describe: `tcp:127.0.0.1:${port}`,
    open: () =>
      new Promise((resolve, reject) => {
        const s = net.createConnection(port, '127.0.0.1');
        s.once('connect', () => {
          s.removeAllListeners('error');
          s.on('error', () => {});
          resolve(s);
        });
        s.once('error', reject);
      }),
    send: (s, items) =>
      new Promise((resolve, reject) => {
        if (s.destroyed) return reject(new Error('connection closed'));
        s.write(items.join(''), (err) => (err ? reject(err) : resolve()));
      }),
    close: (s) => s.destroy(),
  };
}

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise((r) => s.close(r));
  return port;
}

test('records wait while the peer is away, overflow is dropped, the rest arrives in order', async (t) => {
  const port = await freePort();
  const counters = new Counters();
  const logged: string[] = [];
  let committed = 0;
  const sink = new ReconnectingSink({
    link: tcpLink(port),
    maxBytes: 100 * 8,
    counters,
    log: pino(
      { level: 'info' },
      {
        write: (s: string) => {
          logged.push(JSON.parse(s).msg);
        },
      },
    ),
    commit: (n) => {
      committed += n;
    },
    backoff: new Backoff(20, 100),
  });
  t.after(() => sink.close());
  // 150 records of 8 bytes into room for 100, with nobody listening.
  for (let i = 0; i < 150; i++) {
    const line = `${String(i).padStart(7, '0')}\n`;
    counters.received++;
    sink.push(line, line.length);
  }
  assert.equal(counters.dropped, 50);
  assert.equal(committed, 0, 'dropped records commit after the records accepted before them');
  assert.equal(sink.busy, true);
  await waitFor(() => counters.errors >= 3, 5000);
  assert.equal(counters.sent, 0);

  let got = '';
  const server = net.createServer((c) =>
    c.on('data', (d) => {
      got += d;
    }),
  );
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  t.after(() => {
    server.close();
  });
  await sink.flush();
  assert.equal(counters.sent, 100);
  await waitFor(() => got.length === 800, 5000);
  assert.deepEqual(
    got.trim().split('\n').map(Number),
    Array.from({ length: 100 }, (_, i) => i),
  );
  assert.equal(committed, 150);
  assert.equal(counters.received, counters.sent + counters.dropped);
  const failures = logged.filter((m) => m.includes('cannot connect'));
  assert.equal(failures.length, 1, `one line for the whole streak of ${counters.errors} failures: ${logged.join(' | ')}`);
  assert.ok(
    logged.some((m) => m.startsWith(`tcp:127.0.0.1:${port} works again`)),
    logged.join(' | '),
  );
  assert.ok(logged.some((m) => m.includes('is full: dropping records')));
});

test('close() never waits for an absent peer: what is queued is dropped and committed', async () => {
  const port = await freePort();
  const counters = new Counters();
  let committed = 0;
  const sink = new ReconnectingSink({
    link: tcpLink(port),
    maxBytes: 1 << 20,
    counters,
    log: pino({ level: 'silent' }),
    commit: (n) => {
      committed += n;
    },
    backoff: new Backoff(1000, 1000),
  });
  for (let i = 0; i < 10; i++) sink.push('x\n', 2, 3);
  const t0 = Date.now();
  await sink.close();
  assert.ok(Date.now() - t0 < 100);
  assert.equal(counters.dropped, 30);
  assert.equal(committed, 30);
  assert.equal(sink.push('late\n', 5), false, 'nothing is taken after close');
  assert.equal(counters.dropped, 31);
  await sink.flush();
});
