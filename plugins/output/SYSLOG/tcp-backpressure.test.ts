/**
 * SYSLOG over TCP to a collector that accepts and then stops reading: the
 * output holds at most syslog_buffer bytes, counts each message it cannot
 * keep as dropped, and delivers the others in order once the collector reads.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { outputHarness } from '../../../test/output-harness.js';
import { waitFor } from '../../../test/netns.js';
import SYSLOG from './index.js';

/** Messages of an RFC 6587 octet-counted stream. */
function frames(buf: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  for (;;) {
    const sp = buf.indexOf(0x20, at);
    if (sp < 0) break;
    const len = Number(buf.subarray(at, sp).toString('latin1'));
    if (sp + 1 + len > buf.length) break;
    out.push(buf.subarray(sp + 1, sp + 1 + len).toString('latin1'));
    at = sp + 1 + len;
  }
  return out;
}

describe('SYSLOG over TCP to a collector that stops reading', () => {
  it('stays within syslog_buffer, counts drops, delivers the rest in order', async () => {
    const TOTAL = 30000;
    let conn: net.Socket | null = null;
    const got: Buffer[] = [];
    const server = net.createServer((c) => {
      conn = c;
      c.pause();
      c.on('data', (d) => got.push(d));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const h = await outputHarness(SYSLOG, { syslog_host: '127.0.0.1', syslog_port: port, syslog_protocol: 'tcp', syslog_buffer: 256 * 1024 });
    try {
      await waitFor(() => conn, 5000, 'the connection');
      const pad = 'p'.repeat(400);
      for (let i = 0; i < TOTAL; i++) {
        h.packet({ 'oob.prefix': `n${i} ${pad}: `, 'ip.saddr': 0x0a000001, 'ip.daddr': 0x0a000002, 'ip.protocol': 17 });
        if (i % 100 === 99) await new Promise((r) => setImmediate(r));
      }
      const c = h.counters;
      assert.ok(c.dropped > 0, 'a collector that does not read makes messages drop');
      conn!.resume();
      await h.flush();
      const msgs = await waitFor(
        () => {
          const m = frames(Buffer.concat(got));
          return m.length === c.sent ? m : null;
        },
        10000,
        'every sent message',
      );
      assert.equal(c.sent + c.dropped, TOTAL);
      const seqs = msgs.map((m) => Number(/ n(\d+) /.exec(m)![1]));
      assert.ok(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
        'in order, none twice',
      );
    } finally {
      await h.instance.close();
      server.close();
      (conn as net.Socket | null)?.destroy();
    }
  });
});
