/**
 * The IPFIX stream as a collector sees it, over UDP and TCP: messages packed
 * to the path MTU, sequence numbers counting data records per transport
 * session, templates first and refreshed over UDP (by message count and by
 * time), a new session with templates on every TCP connection, everything
 * sent before close; and tshark decoding the whole capture with no expert
 * warning or error (its IPFIX sequence analysis included).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { exportFlows, makeFlows, parseMessages, writePcap } from './export-run.js';
import { queued } from './flow-input.js';
import IPFIX from './index.js';
import { recordLength, TEMPLATES } from './template.js';

const FLOW_INPUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'flow-input.js');
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** tshark's decoding of a capture: the flows it found (source addresses) and any expert findings. */
function tshark(pcap: string, decodeAs: string): { sources: string[]; sequences: number[]; expert: string } {
  const args = ['-r', pcap, '-d', decodeAs];
  const fields = execFileSync(
    'tshark',
    [...args, '-T', 'fields', '-E', 'separator=/t', '-e', 'cflow.sequence', '-e', 'cflow.srcaddr', '-e', 'cflow.srcaddrv6'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const sources: string[] = [];
  const sequences: number[] = [];
  for (const line of fields.split('\n').filter(Boolean)) {
    const [seq, v4, v6] = line.split('\t');
    sequences.push(Number(seq));
    for (const a of [v4, v6]) if (a) sources.push(...a.split(','));
  }
  const expert = execFileSync('tshark', [...args, '-q', '-z', 'expert'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  return { sources, sequences, expert };
}

/** The longest data record. */
const LONGEST = Math.max(...[...TEMPLATES.values()].map(recordLength));

/** Data records in one set: its length over its template's record length (none in a template set). */
function setRecords(s: { id: number; length: number }): number {
  const fields = TEMPLATES.get(s.id);
  return fields ? (s.length - 4) / recordLength(fields) : 0;
}

/** Data records in one message, from its set lengths and the record lengths. */
function dataRecords(data: Buffer): number {
  let n = 0;
  for (const m of parseMessages(data)) for (const s of m.sets) n += setRecords(s);
  return n;
}

describe('IPFIX over UDP', { timeout: 60000 }, () => {
  let dir: string;
  let sock: dgram.Socket;
  let got: Buffer[];
  let port: number;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipfix-udp-'));
    sock = dgram.createSocket('udp4');
    sock.on('message', (m) => got.push(m));
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
    port = sock.address().port;
  });
  after(() => {
    sock.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('packs messages to the MTU, counts records in sequence numbers, refreshes templates every N messages, and tshark decodes it all', async () => {
    got = [];
    const flows = makeFlows(600);
    const res = await exportFlows(flows, { ipfixhost: '127.0.0.1', ipfixport: port, ipfixdomain: 7, ipfixmtu: 1000, ipfixtemplatepackets: 5 });
    await sleep(200);
    assert.deepEqual([res.counters.sent, res.counters.dropped, res.committed], [600, 0, 600]);

    let seq = 0;
    let sinceTemplates = -1;
    let records = 0;
    for (const d of got) {
      assert.ok(d.length <= 1000 - 28, `a ${d.length}-byte message fits a 1000-byte MTU`);
      const [m] = parseMessages(d);
      assert.equal(m.length, d.length);
      assert.equal(m.domain, 7);
      assert.equal(m.sequence, seq, 'sequence number: data records sent before the message');
      const n = dataRecords(d);
      if (m.sets[0].id === 2) {
        assert.equal(n, 0, 'templates travel alone');
        assert.ok(sinceTemplates === -1 || sinceTemplates === 5, `templates after ${sinceTemplates} data messages`);
        sinceTemplates = 0;
      } else {
        assert.ok(sinceTemplates >= 0 && sinceTemplates < 5, 'templates before the first data message and every 5');
        sinceTemplates++;
        assert.ok(n > 0);
      }
      seq += n;
      records += n;
      // Full messages: the batches (of 50) follow each other at once, so they share messages and only the last leaves unfilled.
      if (n > 0 && records < 600) assert.ok(d.length + 4 + LONGEST > 972, `message of ${d.length} bytes sent before it was full`);
    }
    assert.equal(records, 600);
    assert.ok(got.filter((d) => parseMessages(d)[0].sets[0].id === 2).length > 5);

    const pcap = path.join(dir, 'udp.pcap');
    writePcap(pcap, port, got);
    const t = tshark(pcap, `udp.port==${port},cflow`);
    assert.doesNotMatch(t.expert, /Error|Warn|Malformed/i, t.expert);
    assert.deepEqual(t.sources.sort(), flows.map((f) => f.saddr).sort());
  });

  it('sends a message that is not full ipfixdelay ms after its first record, filled meanwhile by the next batches; with 0 at the end of each batch', async () => {
    const dataMessages = () => got.map(dataRecords).filter((n) => n > 0);
    const total = (ds: Buffer[]) => ds.reduce((a, d) => a + dataRecords(d), 0);
    // Four batches of 3 records 20 ms apart, within the default 1000 ms: one message.
    got = [];
    await exportFlows(makeFlows(12), { ipfixhost: '127.0.0.1', ipfixport: port }, { batch: 3, between: () => sleep(20) });
    await sleep(100);
    assert.deepEqual(dataMessages(), [12]);
    // Batches 300 ms apart with ipfixdelay 100: each leaves once its 100 ms are up, without waiting for a flush.
    got = [];
    const seen: number[] = [];
    const between = async () => {
      await sleep(300);
      seen.push(dataMessages().reduce((a, b) => a + b, 0));
    };
    await exportFlows(makeFlows(6), { ipfixhost: '127.0.0.1', ipfixport: port, ipfixdelay: 100 }, { batch: 3, between });
    assert.deepEqual(seen, [3, 6]);
    // ipfixdelay 0: each batch at its end, in a message of its own.
    got = [];
    await exportFlows(makeFlows(12), { ipfixhost: '127.0.0.1', ipfixport: port, ipfixdelay: 0 }, { batch: 3, between: () => sleep(20) });
    await sleep(100);
    assert.deepEqual(dataMessages(), [3, 3, 3, 3]);
    // Batches of 30 records 60 ms apart with ipfixdelay 100: each fills the message the last one left open and opens
    // another, never 100 ms old when the next batch comes: every message but the last leaves full.
    got = [];
    await exportFlows(makeFlows(240), { ipfixhost: '127.0.0.1', ipfixport: port, ipfixdelay: 100 }, { batch: 30, between: () => sleep(60) });
    await sleep(100);
    const data = got.filter((d) => dataRecords(d) > 0);
    assert.equal(total(data), 240);
    for (const d of data.slice(0, -1)) assert.ok(d.length + 4 + LONGEST > 1500 - 28, `a message of ${d.length} bytes left before it was full`);
  });

  it('sends the templates again once ipfixtemplaterefresh seconds passed', async () => {
    got = [];
    await exportFlows(
      makeFlows(40),
      { ipfixhost: '127.0.0.1', ipfixport: port, ipfixtemplaterefresh: 1, ipfixtemplatepackets: 0, ipfixdelay: 100 },
      { batch: 10, between: () => sleep(400) },
    );
    await sleep(200);
    const templates = got
      .map((d, i) => [i, parseMessages(d)[0].sets[0].id] as const)
      .filter(([, id]) => id === 2)
      .map(([i]) => i);
    // Four batches 400 ms apart: templates first, then again once a second passed.
    assert.deepEqual(templates, [0, 4], `template messages at ${templates}`);
  });

  it('reaches a collector on an IPv6 address', async () => {
    const s6 = dgram.createSocket('udp6');
    const got6: Buffer[] = [];
    s6.on('message', (m) => got6.push(m));
    await new Promise<void>((r) => s6.bind(0, '::1', r));
    const res = await exportFlows(makeFlows(30), { ipfixhost: '::1', ipfixport: s6.address().port, ipfixmtu: 1280 });
    await sleep(200);
    s6.close();
    assert.equal(res.counters.sent, 30);
    assert.ok(got6.every((d) => d.length <= 1280 - 48));
    assert.equal(
      got6.reduce((n, d) => n + dataRecords(d), 0),
      30,
    );
  });

  it('goes on sending to a UDP collector that comes back: its refusals are errors, every record is sent or dropped, the rest arrives', async () => {
    const probe = dgram.createSocket('udp4');
    await new Promise<void>((r) => probe.bind(0, '127.0.0.1', r));
    const away = probe.address().port;
    await new Promise<void>((r) => probe.close(() => r()));
    const back = dgram.createSocket('udp4');
    const received: Buffer[] = [];
    back.on('message', (m) => received.push(m));
    let batches = 0;
    const res = await exportFlows(
      makeFlows(200),
      { ipfixhost: '127.0.0.1', ipfixport: away, ipfixtemplatepackets: 1 },
      {
        batch: 10,
        between: async () => {
          await sleep(30);
          if (++batches === 10) await new Promise<void>((r) => back.bind(away, '127.0.0.1', r));
        },
      },
    );
    await sleep(200);
    back.close();
    const arrived = received.reduce((n, d) => n + dataRecords(d), 0);
    assert.equal(res.counters.sent + res.counters.dropped, 200, JSON.stringify(res.counters));
    assert.ok(res.counters.errors > 0, `refused while away: ${JSON.stringify(res.counters)}`);
    assert.ok(arrived >= 90, `${arrived} records arrived once the collector was back`);
    assert.equal(res.committed, 200);
  });

  it('leaves out a record that is no IP flow: dropped, counted as skipped, committed in its place', async () => {
    got = [];
    const flows = makeFlows(10);
    delete flows[4].saddr;
    const res = await exportFlows(flows, { ipfixhost: '127.0.0.1', ipfixport: port }, { batch: 10 });
    await sleep(100);
    assert.deepEqual([res.counters.sent, res.counters.dropped, res.counters.skipped, res.committed], [9, 1, 1, 10]);
    assert.equal(
      got.reduce((n, d) => n + dataRecords(d), 0),
      9,
    );
  });

  it('keeps the output contract: every record sent or dropped, and committed', async () => {
    queued.length = 0;
    queued.push(...makeFlows(600));
    await checkCompliance(
      'IPFIX',
      { ipfixhost: '127.0.0.1', ipfixport: port },
      {
        inputs: ['BASE', FLOW_INPUT],
        plugins: [IPFIX],
        expect: { sent: 300, dropped: 0, errors: 0 },
      },
    );
  });
});

describe('IPFIX over TCP', { timeout: 60000 }, () => {
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipfix-tcp-'));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('starts every connection with the templates and sequence 0, reconnects, and tshark decodes both sessions', async () => {
    const conns: Buffer[][] = [];
    const server = net.createServer((c) => {
      const chunks: Buffer[] = [];
      conns.push(chunks);
      c.on('data', (d) => chunks.push(d));
      // The collector hangs up after the first connection's first 100 records.
      if (conns.length === 1) {
        c.on('data', () => {
          if (dataRecords(Buffer.concat(chunks)) >= 100) c.end();
        });
      }
      c.on('error', () => {});
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const flows = makeFlows(300);
    const res = await exportFlows(flows, { ipfixhost: '127.0.0.1', ipfixport: port, ipfixproto: 'tcp' }, { batch: 100, between: () => sleep(500) });
    await sleep(200);
    server.close();

    assert.equal(conns.length, 2, 'a second connection after the collector hung up');
    assert.deepEqual([res.counters.sent, res.counters.dropped, res.committed], [300, 0, 300]);
    const sessions = conns.map((c) => parseMessages(Buffer.concat(c)));
    let records = 0;
    for (const msgs of sessions) {
      assert.equal(msgs[0].sets[0].id, 2, 'the templates open the session');
      assert.ok(
        msgs.slice(1).every((m) => m.sets.every((s) => s.id !== 2)),
        'and are not repeated on it',
      );
      let seq = 0;
      for (const m of msgs) {
        assert.equal(m.sequence, seq);
        assert.ok(m.length <= 1500 - 40);
        seq += m.sets.reduce((n, s) => n + setRecords(s), 0);
      }
      records += seq;
    }
    assert.equal(records, 300);

    // One TCP segment per message, one client port per connection.
    const segments = conns.map((c) => {
      const all = Buffer.concat(c);
      const out: Buffer[] = [];
      for (let o = 0; o < all.length; o += all.readUInt16BE(o + 2)) out.push(all.subarray(o, o + all.readUInt16BE(o + 2)));
      return out;
    });
    const pcap = path.join(dir, 'tcp.pcap');
    writePcap(pcap, port, null, segments);
    const t = tshark(pcap, `tcp.port==${port},cflow`);
    assert.doesNotMatch(t.expert, /Error|Warn|Malformed/i, t.expert);
    assert.deepEqual(t.sources.sort(), flows.map((f) => f.saddr).sort());
  });

  it('leaves room for an IPv6 header when a host name may resolve to IPv6', async () => {
    const chunks: Buffer[] = [];
    const server = net.createServer((c) => c.on('data', (d) => chunks.push(d)));
    await new Promise<void>((r) => server.listen(0, '::', r));
    const port = (server.address() as net.AddressInfo).port;
    // At this MTU the test flows pack into 563-byte messages when only an IPv4 header is allowed for.
    const res = await exportFlows(makeFlows(200), { ipfixhost: 'localhost', ipfixport: port, ipfixproto: 'tcp', ipfixmtu: 603 });
    await sleep(100);
    server.close();
    assert.equal(res.counters.sent, 200);
    const msgs = parseMessages(Buffer.concat(chunks));
    assert.ok(msgs.length > 20 && msgs.every((m) => m.length <= 603 - 40 - 20), `message lengths ${[...new Set(msgs.map((m) => m.length))]}`);
  });

  it('with no collector listening, close() counts every record as dropped and commits it', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const t0 = Date.now();
    const res = await exportFlows(makeFlows(300), { ipfixhost: '127.0.0.1', ipfixport: port, ipfixproto: 'tcp' }, { between: () => sleep(50), flush: false });
    assert.ok(Date.now() - t0 < 5000);
    assert.deepEqual([res.counters.sent, res.counters.dropped, res.committed], [0, 300, 300]);
    assert.ok(res.counters.errors > 0, 'the refused connections are errors');
  });
});
