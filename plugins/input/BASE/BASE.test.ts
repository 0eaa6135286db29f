import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inputHarness, ipv4Tcp, ipv6Tcp } from '../../../test/input-harness.js';
import BASE from './index.js';

function ipv4(proto: number, l4: Buffer, frag = 0x4000): Buffer {
  const b = Buffer.alloc(20 + l4.length);
  b[0] = 0x45;
  b[1] = 0x10;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(777, 4);
  b.writeUInt16BE(frag, 6);
  b[8] = 63;
  b[9] = proto;
  b.writeUInt16BE(0xbeef, 10);
  b.writeUInt32BE(0xc0a8000a, 12);
  b.writeUInt32BE(0x7f000001, 16);
  l4.copy(b, 20);
  return b;
}

describe('BASE', () => {
  it('decodes IPv4 and TCP with options', () => {
    const h = inputHarness(BASE);
    const pkt = ipv4Tcp(22, Buffer.from('hi'), 0x02);
    // Widen the TCP header to carry an MSS option.
    const withOpt = Buffer.concat([pkt.subarray(0, 40), Buffer.from([2, 4, 5, 0xb4]), pkt.subarray(40)]);
    withOpt.writeUInt16BE(withOpt.length, 2);
    withOpt[32] = 6 << 4;
    const f = h.run(withOpt, 2, (p) => {
      p.indev = 1;
      p.hook = 1;
      p.mark = 9;
      p.tsSec = 1700000000;
      p.tsUsec = 5;
      p.seqLocal = 3;
    });
    assert.equal(f['ip.saddr'], '10.0.0.1');
    assert.equal(f['ip.daddr.str'], '10.0.0.2');
    assert.equal(f['ip.protocol'], '6');
    assert.equal(f['ip.ttl'], '64');
    assert.equal(f['ip.fragoff'], '16384');
    assert.equal(f['ip.totlen'], String(withOpt.length));
    assert.equal(f['tcp.sport'], '40000');
    assert.equal(f['tcp.dport'], '22');
    assert.equal(f['tcp.syn'], 'true');
    assert.equal(f['tcp.ack'], 'false');
    assert.equal(f['tcp.offset'], '6');
    assert.equal(f['tcp.window'], '65535');
    assert.equal(f['tcp.options'], '020405b4');
    assert.equal(f['oob.mark'], '9');
    assert.equal(f['oob.time.sec'], '1700000000');
    assert.equal(f['oob.time.usec'], '5');
    assert.equal(f['oob.seq.local'], '3');
    assert.equal(f['oob.in'], 'lo');
    assert.equal(f['oob.out'], '');
    assert.equal(f['udp.sport'], undefined);
  });

  it('gives AE as its own flag and the three reserved bits as RES= shows them', () => {
    const h = inputHarness(BASE);
    // word: the data-offset byte's low nibble (reserved bits 0x800 0x400 0x200, AE 0x100), then the flags byte.
    const cases: Array<[number, string, string, string, string]> = [
      // word, tcp.ae, tcp.reserved, tcp.cwr, tcp.fin
      [0x100, 'true', '0', 'false', 'false'],
      [0x200, 'false', '8', 'false', 'false'],
      [0x800, 'false', '32', 'false', 'false'],
      [0xe00, 'false', '56', 'false', 'false'],
      [0xfff, 'true', '56', 'true', 'true'],
      [0x081, 'false', '0', 'true', 'true'],
    ];
    for (const [word, ae, reserved, cwr, fin] of cases) {
      const pkt = ipv4Tcp(80, Buffer.alloc(0), word & 0xff);
      pkt[32] = (5 << 4) | (word >> 8);
      const f = h.run(pkt, 2);
      const what = `flags word 0x${word.toString(16)}`;
      assert.equal(f['tcp.ae'], ae, what);
      assert.equal(f['tcp.reserved'], reserved, what);
      assert.equal(f['tcp.cwr'], cwr, what);
      assert.equal(f['tcp.fin'], fin, what);
      assert.equal(f['tcp.offset'], '5', what);
    }
  });

  it('decodes UDP, ICMP echo, redirect and fragmentation-needed', () => {
    const h = inputHarness(BASE);
    const udp = Buffer.from([0x13, 0x88, 0x00, 0x35, 0x00, 0x0c, 0xab, 0xcd, 1, 2, 3, 4]);
    let f = h.run(ipv4(17, udp));
    assert.deepEqual([f['udp.sport'], f['udp.dport'], f['udp.len'], f['udp.csum'], f['ip.tos'], f['ip.id']], ['5000', '53', '12', '43981', '16', '777']);
    f = h.run(ipv4(1, Buffer.from([8, 0, 0x12, 0x34, 0, 7, 0, 9])));
    assert.deepEqual([f['icmp.type'], f['icmp.code'], f['icmp.echoid'], f['icmp.echoseq'], f['icmp.csum']], ['8', '0', '7', '9', '4660']);
    f = h.run(ipv4(1, Buffer.from([5, 1, 0, 0, 10, 0, 0, 254])));
    assert.equal(f['icmp.gateway'], '10.0.0.254');
    assert.equal(f['icmp.echoid'], undefined);
    f = h.run(ipv4(1, Buffer.from([3, 4, 0, 0, 0, 0, 0x05, 0xdc])));
    assert.equal(f['icmp.fragmtu'], '1500');
  });

  it('walks IPv6 extension headers to the transport header', () => {
    const h = inputHarness(BASE);
    const plain = ipv6Tcp(443, Buffer.alloc(0), 0x12);
    // Insert a hop-by-hop header (8 bytes) and a fragment header (first fragment, M set).
    const hop = Buffer.from([44, 0, 0, 0, 0, 0, 0, 0]);
    const frag = Buffer.from([6, 0, 0x00, 0x01, 0xde, 0xad, 0xbe, 0xef]);
    const b = Buffer.concat([plain.subarray(0, 40), hop, frag, plain.subarray(40)]);
    b[6] = 0;
    b.writeUInt16BE(b.length - 40, 4);
    b.writeUInt32BE(0x6a012345, 0);
    const f = h.run(b, 10);
    assert.equal(f['ip.saddr'], '2001:db8::1');
    assert.equal(f['ip.daddr.str'], '2001:db8::2');
    assert.equal(f['ip6.nexthdr'], '0');
    assert.equal(f['ip.protocol'], '6');
    assert.equal(f['ip6.fragoff'], '1');
    assert.equal(f['ip6.fragid'], String(0xdeadbeef));
    assert.equal(f['ip6.priority'], String(0xa0));
    assert.equal(f['ip6.flowlabel'], String(0x12345));
    assert.equal(f['tcp.dport'], '443');
    assert.equal(f['tcp.syn'], 'true');
    assert.equal(f['tcp.ack'], 'true');
  });

  it('gives no transport fields for later fragments and truncated headers', () => {
    const h = inputHarness(BASE);
    const later = h.run(ipv4(17, Buffer.from([0x13, 0x88, 0, 53, 0, 8, 0, 0]), 0x0010));
    assert.equal(later['ip.fragoff'], '16');
    assert.equal(later['udp.sport'], undefined);
    const full = ipv4Tcp(80, Buffer.alloc(0));
    for (let n = 0; n < full.length; n++) {
      const f = h.run(full.subarray(0, n));
      if (n < 40) assert.equal(f['tcp.dport'], undefined, `cut at ${n}`);
    }
    assert.doesNotThrow(() => h.run(Buffer.alloc(80, 0xff), 10));
  });

  it('decodes ARP', () => {
    const h = inputHarness(BASE);
    const arp = Buffer.from('0001080006040001aabbccddeeff0a000001000000000000' + '0a000002', 'hex');
    const f = h.run(arp, 3);
    assert.deepEqual([f['arp.operation'], f['arp.shwaddr'], f['arp.saddr'], f['arp.daddr.str']], ['1', 'aa:bb:cc:dd:ee:ff', '10.0.0.1', '10.0.0.2']);
  });

  it('sets only the keys some output reads and skips unread layers', () => {
    const h = inputHarness(BASE, ['oob.prefix', 'tcp.dport']);
    const f = h.run(ipv4Tcp(25, Buffer.alloc(0)), 2, (p) => {
      p.prefix = () => 'X: ';
    });
    assert.deepEqual(f, { 'oob.prefix': 'X: ', 'tcp.dport': '25' });
    const oobOnly = inputHarness(BASE, ['oob.family']);
    assert.deepEqual(oobOnly.run(Buffer.alloc(64, 0x45)), { 'oob.family': '2' });
  });

  it('reads the link-layer header', () => {
    const h = inputHarness(BASE, ['mac.str', 'mac.saddr', 'mac.daddr', 'raw.mac_len']);
    const link = Buffer.from('0211223344550a0b0c0d0e0f0800', 'hex');
    const bytes = Buffer.concat([link, ipv4Tcp(1, Buffer.alloc(0))]);
    const f = h.run(bytes.subarray(14), 2);
    assert.deepEqual(f, {});
    const g = inputHarness(BASE, ['mac.str', 'mac.saddr', 'mac.daddr']).run(bytes, 2, (p) => {
      p.hwHeaderOff = 0;
      p.hwHeaderLen = 14;
      p.payloadOff = 14;
      p.payloadLen = bytes.length - 14;
    });
    assert.deepEqual(g, { 'mac.str': '02:11:22:33:44:55:0a:0b:0c:0d:0e:0f:08:00', 'mac.daddr': '02:11:22:33:44:55', 'mac.saddr': '0a:0b:0c:0d:0e:0f' });
  });
});
