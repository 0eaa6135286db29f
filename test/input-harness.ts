/**
 * Test helper for input plugins: creates the plugin with the keys chosen as
 * read, runs raw packet bytes through it and returns the fields it set.
 */
import pino from 'pino';
import { Counters } from '../src/core/counters.js';
import { valueToString } from '../src/core/format.js';
import { KeyRegistry } from '../src/core/keys.js';
import { Packet } from '../src/core/packet.js';
import type { InputDefinition, InputInstance, OptionValues } from '../src/core/plugin.js';
import { Record } from '../src/core/record.js';

export function inputHarness(def: InputDefinition, want?: string[], options: OptionValues = {}) {
  const keys = new KeyRegistry();
  for (const k of def.produces) keys.register(k);
  const opts: { [k: string]: unknown } = {};
  for (const [n, spec] of Object.entries(def.options)) opts[n] = spec.default;
  Object.assign(opts, options);
  const inst = def.create({
    name: def.name,
    group: 1,
    options: opts as OptionValues,
    log: pino({ level: 'silent' }),
    counters: new Counters(),
    checkOnly: false,
    fail: (m: string) => {
      throw new Error(m);
    },
    want: (n) => (!want || want.includes(n) ? (keys.get(n) ?? null) : null),
    key: (n) => {
      throw new Error(`no earlier input produces ${n}`);
    },
  }) as InputInstance;
  const rec = new Record(keys.size);
  const pkt = new Packet();
  return {
    /** Runs one packet (network header onwards) and returns the set fields in their text form. */
    run(bytes: Buffer, family = bytes.length && bytes[0] >> 4 === 6 ? 10 : 2, setup?: (p: Packet) => void): { [name: string]: string } {
      rec.clear();
      pkt.reset(bytes);
      pkt.family = family;
      pkt.payloadOff = 0;
      pkt.payloadLen = bytes.length;
      setup?.(pkt);
      inst.process(pkt, rec);
      const out: { [name: string]: string } = {};
      rec.forEachSet((slot, v) => {
        const k = keys.all()[slot];
        out[k.name] = valueToString(k.type, v);
      });
      return out;
    },
  };
}

/** An IPv4 TCP packet 10.0.0.1:40000 → 10.0.0.2:dport with the given payload (PSH|ACK). */
export function ipv4Tcp(dport: number, payload: Buffer, flags = 0x18): Buffer {
  const b = Buffer.alloc(40 + payload.length);
  b[0] = 0x45;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(0x1234, 4);
  b.writeUInt16BE(0x4000, 6);
  b[8] = 64;
  b[9] = 6;
  b.writeUInt32BE(0x0a000001, 12);
  b.writeUInt32BE(0x0a000002, 16);
  tcpHeader(b, 20, dport, flags);
  payload.copy(b, 40);
  return b;
}

/** The same over IPv6, 2001:db8::1 → 2001:db8::2. */
export function ipv6Tcp(dport: number, payload: Buffer, flags = 0x18): Buffer {
  const b = Buffer.alloc(60 + payload.length);
  b.writeUInt32BE(0x60000000, 0);
  b.writeUInt16BE(20 + payload.length, 4);
  b[6] = 6;
  b[7] = 64;
  Buffer.from('20010db8000000000000000000000001', 'hex').copy(b, 8);
  Buffer.from('20010db8000000000000000000000002', 'hex').copy(b, 24);
  tcpHeader(b, 40, dport, flags);
  payload.copy(b, 60);
  return b;
}

function tcpHeader(b: Buffer, o: number, dport: number, flags: number): void {
  b.writeUInt16BE(40000, o);
  b.writeUInt16BE(dport, o + 2);
  b.writeUInt32BE(1000, o + 4);
  b.writeUInt32BE(2000, o + 8);
  b[o + 12] = 5 << 4;
  b[o + 13] = flags;
  b.writeUInt16BE(65535, o + 14);
}
