/** The compiled JSON encoder: every key type, ECS names, and lines intact across buffer renewals. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { KeyRegistry, type Key, type KeyType, Record, TextBuffer } from 'specter/plugin';
import { JsonEncoder } from './encoder.js';

function setup(defs: Array<[string, KeyType]>) {
  const reg = new KeyRegistry();
  const keys = defs.map(([name, type]) => reg.register({ name, type }));
  const byName = (n: string) => reg.get(n);
  return { keys, rec: new Record(reg.size), key: (n: string) => byName(n) as Key, optional: byName };
}

const V6 = Uint8Array.from(Buffer.from('20010db8000000000000000000000001', 'hex'));
const MAC = Uint8Array.of(0x02, 0x42, 0xac, 0x11, 0x00, 0x02);

describe('JSON encoder', () => {
  const defs: Array<[string, KeyType]> = [
    ['oob.time.sec', 'u32'],
    ['oob.time.usec', 'u32'],
    ['oob.prefix', 'string'],
    ['oob.in', 'string'],
    ['ip.saddr', 'ipaddr'],
    ['ip.daddr', 'ipaddr'],
    ['ip6.x', 'ipv6'],
    ['icmp.gateway', 'ipv4'],
    ['udp.sport', 'u16'],
    ['tcp.sport', 'u16'],
    ['x.neg', 'i32'],
    ['x.big', 'u64'],
    ['x.huge', 'u64'],
    ['tcp.syn', 'bool'],
    ['tcp.fin', 'bool'],
    ['mac.saddr', 'mac'],
    ['raw.pkt', 'raw'],
    ['x.when', 'time'],
  ];

  function fill(s: ReturnType<typeof setup>, prefix: string) {
    const { rec, key } = s;
    rec.clear();
    rec.set(key('oob.time.sec'), 1795987420);
    rec.set(key('oob.time.usec'), 5);
    rec.set(key('oob.prefix'), prefix);
    rec.set(key('oob.in'), 'eth0');
    rec.set(key('ip.saddr'), 0x0a000001);
    rec.set(key('ip.daddr'), V6);
    rec.set(key('ip6.x'), V6);
    rec.set(key('icmp.gateway'), 0xc0a80101);
    rec.set(key('udp.sport'), 5353);
    rec.set(key('x.neg'), -42);
    rec.set(key('x.big'), 2n ** 40n);
    rec.set(key('x.huge'), 2n ** 63n + 1n);
    rec.set(key('tcp.syn'), true);
    rec.set(key('tcp.fin'), false);
    rec.set(key('mac.saddr'), MAC);
    rec.set(key('raw.pkt'), Uint8Array.of(0x45, 0, 0xff));
    rec.set(key('x.when'), Date.UTC(2026, 0, 2, 3, 4, 5, 6));
  }

  it('writes every type as JSON a parser reads back, with specter names', () => {
    const old = process.env.TZ;
    process.env.TZ = 'UTC';
    try {
      const s = setup(defs);
      const enc = new JsonEncoder(s.keys, false, s.optional);
      const out = new TextBuffer();
      fill(s, 'quote " backslash \\ tab \t é ✓: ');
      enc.encode(s.rec, out);
      const line = out.take().toString('utf8');
      assert.ok(line.endsWith('}\n'));
      assert.deepEqual(JSON.parse(line), {
        timestamp: '2026-11-29T21:23:40.000005+00:00',
        'oob.time.sec': 1795987420,
        'oob.time.usec': 5,
        'oob.prefix': 'quote " backslash \\ tab \t é ✓: ',
        'oob.in': 'eth0',
        'ip.saddr': '10.0.0.1',
        'ip.daddr': '2001:db8::1',
        'ip6.x': '2001:db8::1',
        'icmp.gateway': '192.168.1.1',
        'udp.sport': 5353,
        'x.neg': -42,
        'x.big': 2 ** 40,
        'x.huge': '9223372036854775809',
        'tcp.syn': true,
        'tcp.fin': false,
        'mac.saddr': '02:42:ac:11:00:02',
        'raw.pkt': '4500ff',
        'x.when': '2026-01-02T03:04:05.006000+00:00',
      });
    } finally {
      if (old === undefined) delete process.env.TZ;
      else process.env.TZ = old;
    }
  });

  it('uses ECS names, one field for tcp and udp ports, and derived fields', () => {
    const s = setup([...defs, ['ip.protocol', 'u8'], ['oob.family', 'u8']]);
    const enc = new JsonEncoder(s.keys, true, s.optional);
    const out = new TextBuffer();
    fill(s, 'dns-in: ');
    s.rec.set(s.key('ip.protocol'), 17);
    s.rec.set(s.key('oob.family'), 2);
    enc.encode(s.rec, out);
    const o = JSON.parse(out.take().toString('utf8'));
    assert.equal(o['source.ip'], '10.0.0.1');
    assert.equal(o['source.port'], 5353);
    assert.equal(o['source.mac'], '02-42-AC-11-00-02');
    assert.equal(o['observer.ingress.interface.name'], 'eth0');
    assert.equal(o['event.action'], 'dns-in');
    assert.equal(o['network.transport'], 'udp');
    assert.equal(o['network.type'], 'ipv4');
    assert.ok(o['@timestamp']);
    assert.equal(o['oob.prefix'], undefined);
    assert.equal(o['specter.x.neg'], -42);
  });

  it('leaves absent keys out and keeps every line whole across many buffer renewals', () => {
    const s = setup(defs);
    const enc = new JsonEncoder(s.keys, false, s.optional);
    const out = new TextBuffer(1024);
    const slices: Buffer[] = [];
    for (let i = 0; i < 500; i++) {
      fill(s, `p${i % 3} `);
      if (i % 2) s.rec.clear(); // a record with nothing but the timestamp
      s.rec.set(s.key('udp.sport'), i);
      enc.encode(s.rec, out);
      if (i % 10 === 9) slices.push(out.take());
    }
    const lines = Buffer.concat(slices)
      .toString('utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 500);
    lines.forEach((o, i) => {
      assert.equal(o['udp.sport'], i);
      assert.equal(o['oob.prefix'], i % 2 ? undefined : `p${i % 3} `);
    });
  });

  it('writes nothing of a record that fails halfway', () => {
    const s = setup([
      ['oob.in', 'string'],
      ['mac.saddr', 'mac'],
    ]);
    const enc = new JsonEncoder(s.keys, false, s.optional);
    const out = new TextBuffer();
    s.rec.set(s.key('oob.in'), 'eth0');
    s.rec.set(s.key('mac.saddr'), null); // a buggy input plugin
    assert.throws(() => enc.encode(s.rec, out));
    assert.equal(out.pending, 0);
  });
});
