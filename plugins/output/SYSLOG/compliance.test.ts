/**
 * SYSLOG against the component contract: to a local syslog socket, a UDP and
 * a TCP collector the test runs, every message delivered, counted and
 * committed; with no local socket at all, every record dropped and settled.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-syslog-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface UnixDgram {
  bind(path: string): void;
  close(): void;
}
const require = createRequire(import.meta.url);
const unixDgram = require('unix-dgram') as { createSocket(type: 'unix_dgram', onMessage: (msg: Buffer) => void): UnixDgram };

async function waitForCount(list: unknown[], n: number): Promise<void> {
  for (let i = 0; i < 100 && list.length < n; i++) await new Promise((r) => setTimeout(r, 50));
  assert.equal(list.length, n);
}

describe('SYSLOG compliance', () => {
  it('to a local syslog socket', async () => {
    const sock = path.join(dir, 'log.sock');
    const got: Buffer[] = [];
    const server = unixDgram.createSocket('unix_dgram', (m) => got.push(m));
    server.bind(sock);
    try {
      const { closed } = await checkCompliance('SYSLOG', { syslog_socket: sock }, { expect: { sent: 300, dropped: 0, errors: 0 } });
      // Closed at once, the second run hands over only what the socket takes right away.
      await waitForCount(got, 300 + closed!.counters.sent);
      assert.match(got[1].toString(), /^<165>\w{3} [ \d]\d \d\d:\d\d:\d\d specter\[\d+\]: P: IN=.* MARK=0x1$/);
    } finally {
      server.close();
    }
  });

  it('with no local socket: every record dropped, errors for failed sends only', async () => {
    const { flushed } = await checkCompliance(
      'SYSLOG',
      { syslog_socket: path.join(dir, 'absent.sock') },
      { expect: { sent: 0, dropped: 300 }, flushOnly: true, flushMs: 10000 },
    );
    assert.ok(flushed.counters.errors >= 1 && flushed.counters.errors < 300, `errors ${flushed.counters.errors}`);
  });

  it('to a UDP collector', async () => {
    const got: Buffer[] = [];
    const server = dgram.createSocket('udp4');
    server.on('message', (m) => got.push(m));
    await new Promise<void>((resolve) => server.bind(0, '127.0.0.1', resolve));
    try {
      await checkCompliance('SYSLOG', { syslog_host: '127.0.0.1', syslog_port: server.address().port }, { expect: { sent: 300, dropped: 0, errors: 0 } });
      await waitForCount(got, 600);
      assert.match(got[0].toString(), /^<165>1 \S+ \S+ specter \d+ - - P: IN=/);
    } finally {
      server.close();
    }
  });

  it('to a TCP collector, octet-counted', async () => {
    let data = '';
    const server = net.createServer((c) =>
      c.on('data', (d) => {
        data += d.toString();
      }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { closed } = await checkCompliance(
        'SYSLOG',
        { syslog_host: '127.0.0.1', syslog_port: (server.address() as net.AddressInfo).port, syslog_protocol: 'tcp' },
        { expect: { sent: 300, dropped: 0, errors: 0 } },
      );
      const frames: string[] = [];
      for (let i = 0; i < 100; i++) {
        frames.length = 0;
        let rest = data;
        for (let m = /^(\d+) /.exec(rest); m && rest.length >= m[0].length + Number(m[1]); m = /^(\d+) /.exec(rest)) {
          frames.push(rest.slice(m[0].length, m[0].length + Number(m[1])));
          rest = rest.slice(m[0].length + Number(m[1]));
        }
        if (frames.length >= 300 + closed!.counters.sent) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(frames.length, 300 + closed!.counters.sent);
    } finally {
      server.close();
    }
  });
});
