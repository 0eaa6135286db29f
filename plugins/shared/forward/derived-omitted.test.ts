/**
 * A sensor that leaves the keys made from the packet bytes out of its
 * records: the collector's decoder makes them from raw.pkt, raw.mac and
 * mac.saddr and rebuilds, key for key and type for type, the record BASE
 * makes on the sensor with every key read.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { Counters, KeyRegistry, type Key, Packet, Record, valueToString } from 'specter/plugin';
import { ipv4Tcp, ipv6Tcp } from '../../../test/input-harness.js';
import BASE from '../../input/BASE/index.js';
import { DerivedKeys, isDerivedKey } from '../packet/derived.js';
import { BASE_KEYS } from '../packet/keys.js';
import { ByteWriter, DERIVED_OMITTED, RecordDecoder, RecordEncoder, RecordFormatError } from './record-codec.js';

/** BASE reading the keys `read` chooses, with its registry and a record. */
function base(read: (name: string) => boolean) {
  const reg = new KeyRegistry();
  for (const k of BASE_KEYS) reg.register(k);
  const inst = BASE.create({
    name: 'BASE',
    group: 1,
    options: {},
    log: pino({ level: 'silent' }),
    counters: new Counters(),
    checkOnly: false,
    fail: (m: string) => {
      throw new Error(m);
    },
    want: (n) => (read(n) ? (reg.get(n) ?? null) : null),
    key: (n) => {
      throw new Error(`no earlier input produces ${n}`);
    },
  });
  if (inst instanceof Promise) throw new Error('BASE is created synchronously');
  const rec = new Record(reg.size);
  const pkt = new Packet();
  return {
    reg,
    rec,
    /** `link`: a link-layer header before the packet, and an NFULA_HWADDR after it. */
    run(bytes: Buffer, family: number, hwProtocol = -1, link?: { header: Buffer; hwaddr?: Buffer }): Record {
      rec.clear();
      const header = link?.header ?? Buffer.alloc(0);
      const hwaddr = link?.hwaddr ?? Buffer.alloc(0);
      pkt.reset(Buffer.concat([header, bytes, hwaddr]));
      pkt.family = family;
      pkt.hwProtocol = hwProtocol;
      if (link) {
        pkt.hwHeaderOff = 0;
        pkt.hwHeaderLen = header.length;
      }
      if (link?.hwaddr) {
        pkt.hwAddrOff = header.length + bytes.length;
        pkt.hwAddrLen = hwaddr.length;
      }
      pkt.payloadOff = header.length;
      pkt.payloadLen = bytes.length;
      pkt.hook = 1;
      pkt.indev = 1;
      pkt.tsSec = 1_800_000_000;
      pkt.tsUsec = 250_000;
      inst.process(pkt, rec);
      return rec;
    },
  };
}

function fields(reg: KeyRegistry, rec: Record): { [name: string]: string } {
  const out: { [name: string]: string } = {};
  rec.forEachSet((slot, v) => {
    const k = reg.all()[slot];
    out[k.name] = `${k.type} ${valueToString(k.type, v)}`;
  });
  return out;
}

function ipv4(proto: number, l4: Buffer, frag = 0x4000): Buffer {
  const b = Buffer.alloc(20 + l4.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(4242, 4);
  b.writeUInt16BE(frag, 6);
  b[8] = 61;
  b[9] = proto;
  b.writeUInt32BE(0xc0000201, 12);
  b.writeUInt32BE(0xc6336402, 16);
  l4.copy(b, 20);
  return b;
}

const icmpEcho = Buffer.from('0800f7ff12340007', 'hex');
const udp = Buffer.from('a1b20035000cbeef6869', 'hex');
const sctp = Buffer.from('0bb80bb9000000010a0b0c0d', 'hex');
// An IPv6 fragment header (first fragment), then UDP.
const v6frag = (() => {
  const b = ipv6Tcp(443, Buffer.alloc(0));
  b[6] = 44;
  const frag = Buffer.from('1100000100abcdef', 'hex');
  const out = Buffer.concat([b.subarray(0, 40), frag, udp]);
  out.writeUInt16BE(out.length - 40, 4);
  return out;
})();
const arp = Buffer.from('0001080006040001020000000001c0000201000000000000c0000202', 'hex');

const ETHERNET = Buffer.from('0242ac1100020242ac1100030800', 'hex');
// A Linux "cooked" (SLL-like) 16-byte header: not Ethernet, so the source address comes from NFULA_HWADDR.
const COOKED = Buffer.from('00000001000600000a0b0c0d0e0f0800', 'hex');
const HWADDR = Buffer.from('0a0b0c0d0e0f', 'hex');

type Link = { header: Buffer; hwaddr?: Buffer };
const PACKETS: Array<[string, Buffer, number, number?, Link?]> = [
  [
    'IPv4 TCP SYN with options',
    (() => {
      const p = ipv4Tcp(22, Buffer.from('hi'), 0x02);
      const b = Buffer.concat([p.subarray(0, 40), Buffer.from([2, 4, 5, 0xb4]), p.subarray(40)]);
      b.writeUInt16BE(b.length, 2);
      b[32] = 6 << 4;
      return b;
    })(),
    2,
  ],
  ['IPv4 UDP', ipv4(17, udp), 2],
  ['IPv4 ICMP echo', ipv4(1, icmpEcho), 2],
  ['IPv4 SCTP', ipv4(132, sctp), 2],
  ['IPv4 later fragment', ipv4(17, udp, 0x00b9), 2],
  ['IPv6 TCP', ipv6Tcp(8443, Buffer.from('x'), 0x12), 10],
  ['IPv6 fragment then UDP', v6frag, 10],
  ['ARP request on a bridge (family from the ethertype)', arp, 7, 0x0806],
  ['a truncated IPv4 header', ipv4(6, Buffer.alloc(0)).subarray(0, 12), 2],
  ['IPv4 UDP behind an Ethernet header', ipv4(17, udp), 2, 0x0800, { header: ETHERNET }],
  ['IPv6 TCP behind a 16-byte header with NFULA_HWADDR', ipv6Tcp(25, Buffer.from('y')), 10, 0x86dd, { header: COOKED, hwaddr: HWADDR }],
  ['IPv4 ICMP with NFULA_HWADDR and an empty header', ipv4(1, icmpEcho), 2, 0x0800, { header: Buffer.alloc(0), hwaddr: HWADDR }],
];

describe('records forwarded without their header keys', () => {
  const full = base(() => true);
  const sensor = base((n) => !isDerivedKey(n));
  const sent: Key[] = sensor.reg.all().filter((k) => !isDerivedKey(k.name));
  const enc = new RecordEncoder(sent, sensor.reg.size, 'fw-edge-1', 3, DERIVED_OMITTED);

  // The collector's registry has its own slots (a key of its own first).
  const creg = new KeyRegistry();
  creg.register({ name: 'sensor.name', type: 'string' });
  for (const k of BASE_KEYS) creg.register(k);
  const dec = new RecordDecoder((n) => creg.get(n), new DerivedKeys((n) => creg.get(n)!.slot));
  const crec = new Record(creg.size);

  for (const [what, bytes, family, proto, link] of PACKETS) {
    it(`${what}: the collector's record equals BASE's with every key`, () => {
      const want = fields(full.reg, full.run(bytes, family, proto, link));
      const w = new ByteWriter(64);
      enc.begin(w);
      enc.add(sensor.run(bytes, family, proto, link));
      const n = enc.end(1);
      const msg = Buffer.from(w.buf.subarray(0, n));
      // The header keys did not travel.
      const travelled = fields(sensor.reg, sensor.rec);
      assert.ok(!Object.keys(travelled).some(isDerivedKey), 'the sensor set no derived key');
      assert.equal(dec.open(msg), 1);
      assert.equal(dec.next(crec), true);
      assert.deepEqual(fields(creg, crec), want);
      if (what.startsWith('IPv4 TCP')) assert.equal(want['tcp.dport'], 'u16 22', 'the test compares decoded headers');
      if (link?.header.length === 14) assert.equal(want['mac.daddr.str'], 'string 02:42:ac:11:00:02', 'the test compares MAC keys');
      if (link?.hwaddr) assert.equal(want['mac.saddr.str'], 'string 0a:0b:0c:0d:0e:0f', 'the source address from NFULA_HWADDR');
    });
  }

  it('a collector that reads no header key does not decode them, and flags it does not know are refused', () => {
    const none = new RecordDecoder((n) => creg.get(n), new DerivedKeys(() => -1));
    const w = new ByteWriter(64);
    enc.begin(w);
    enc.add(sensor.run(ipv4(17, udp), 2));
    const msg = Buffer.from(w.buf.subarray(0, enc.end(9)));
    none.open(msg);
    none.next(crec);
    assert.equal(crec.get(creg.get('udp.dport')!), undefined);
    assert.equal(crec.get(creg.get('oob.family')!), 2);
    msg[2] |= 0x80;
    assert.throws(
      () => dec.open(msg),
      (e: unknown) => e instanceof RecordFormatError && /flags 0x81/.test((e as Error).message),
    );
  });
});
