/**
 * JSON against the component contract, to a file and to Unix, TCP and UDP
 * peers the test runs: every record delivered (or dropped, when nobody
 * listens) is counted and committed, and errors count failures, not records.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-json-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A stream peer that keeps every line it reads. */
async function streamPeer(listen: (s: net.Server, ready: () => void) => void) {
  const lines: string[] = [];
  const server = net.createServer((c) => {
    let rest = '';
    c.on('data', (d) => {
      const parts = (rest + d.toString('utf8')).split('\n');
      rest = parts.pop()!;
      lines.push(...parts);
    });
  });
  await new Promise<void>((resolve) => listen(server, resolve));
  return { lines, server };
}

describe('JSON compliance', () => {
  it('to a file: writes, counts and commits every record', async () => {
    const file = path.join(dir, 'out.json');
    await checkCompliance('JSON', { jsonfile: file }, { expect: { sent: 300, dropped: 0, errors: 0 } });
    const objs = fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(objs.length, 600);
    assert.deepEqual(
      objs.slice(0, 3).map((o) => o['oob.mark']),
      [0, 1, 2],
    );
  });

  it('to a Unix stream peer', async () => {
    const sock = path.join(dir, 'peer.sock');
    const peer = await streamPeer((s, ready) => s.listen(sock, ready));
    try {
      await checkCompliance('JSON', { jsonsocket: `unix:${sock}` }, { expect: { sent: 300, dropped: 0, errors: 0 }, flushOnly: true });
      await waitForLines(peer.lines, 300);
    } finally {
      peer.server.close();
    }
  });

  it('to a TCP peer', async () => {
    const peer = await streamPeer((s, ready) => s.listen(0, '127.0.0.1', ready));
    const port = (peer.server.address() as net.AddressInfo).port;
    try {
      const { closed } = await checkCompliance('JSON', { jsonsocket: `tcp:127.0.0.1:${port}` }, { expect: { sent: 300, dropped: 0, errors: 0 } });
      assert.equal(closed!.counters.sent + closed!.counters.dropped, 300);
      await waitForLines(peer.lines, 300 + closed!.counters.sent);
    } finally {
      peer.server.close();
    }
  });

  it('to a UDP peer: one datagram per record', async () => {
    const got: Buffer[] = [];
    const server = dgram.createSocket('udp4');
    server.on('message', (m) => got.push(m));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    try {
      await checkCompliance(
        'JSON',
        { jsonsocket: `udp:127.0.0.1:${server.address().port}` },
        { expect: { sent: 300, dropped: 0, errors: 0 }, flushOnly: true },
      );
      await waitForLines(got, 300);
      assert.equal(JSON.parse(got[299].toString())['oob.mark'], 299);
    } finally {
      server.close();
    }
  });

  it('with nobody listening: every record dropped, errors for the failed connections only', async () => {
    const sock = path.join(dir, 'nobody.sock');
    const { flushed } = await checkCompliance('JSON', { jsonsocket: `unix:${sock}` }, { expect: { sent: 0, dropped: 300 }, flushOnly: true, flushMs: 15000 });
    assert.ok(flushed.counters.errors >= 1 && flushed.counters.errors < 300, `errors ${flushed.counters.errors}`);
  });
});

async function waitForLines(list: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 100 && list.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(list.length, n);
}
