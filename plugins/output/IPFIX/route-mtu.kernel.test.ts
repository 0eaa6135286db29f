/**
 * IPFIX over a route whose MTU is below ipfixmtu (a tunnel, a VPN): in a
 * namespace of its own whose loopback has a 1280-byte MTU, the messages are
 * made to fit it, so none travels in IP fragments, and every flow arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { NetNs } from '../../../test/netns.js';

const here = (file: string) => new URL(file, import.meta.url).href;

// Exports 300 flows at the default ipfixmtu (1500) to a collector on the loopback; prints what it received.
const SCRIPT = `
import dgram from 'node:dgram';
import { exportFlows, makeFlows, parseMessages } from '${here('./export-run.js')}';
import { recordLength, TEMPLATES } from '${here('./template.js')}';
const rx = dgram.createSocket('udp4');
const got = [];
rx.on('message', (m) => got.push(m));
await new Promise((r) => rx.bind(0, '127.0.0.1', r));
const res = await exportFlows(makeFlows(300), { ipfixhost: '127.0.0.1', ipfixport: rx.address().port });
for (let t = 0; t < 50; t++) await new Promise((r) => setTimeout(r, 20));
let records = 0;
for (const d of got)
  for (const m of parseMessages(d))
    for (const s of m.sets) if (TEMPLATES.has(s.id)) records += (s.length - 4) / recordLength(TEMPLATES.get(s.id));
console.log(JSON.stringify({ sent: res.counters.sent, records, lengths: got.map((b) => b.length) }));
rx.close();
`;

describe('IPFIX on a route with a smaller MTU', () => {
  let ns: NetNs;
  before(() => {
    ns = new NetNs('spt-ipfix-mtu');
    ns.exec('ip', ['link', 'set', 'lo', 'mtu', '1280']);
  });
  after(() => ns.delete());

  it('packs messages to the route MTU instead of ipfixmtu, and every flow arrives', () => {
    const out = JSON.parse(ns.exec(process.execPath, ['--input-type=module', '-e', SCRIPT])) as { sent: number; records: number; lengths: number[] };
    assert.equal(out.sent, 300);
    assert.equal(out.records, 300, 'every flow reached the collector');
    const longest = Math.max(...out.lengths);
    assert.ok(longest <= 1280 - 28, `the longest message, ${longest} bytes, fits the route's 1280-byte MTU with its IP and UDP headers`);
    // Packed to that limit, not below it: a full message has no room for one more IPv6 record (131 bytes and a set header).
    assert.ok(longest > 1280 - 28 - 131 - 4, `messages are filled up to the limit (longest ${longest})`);
  });
});
