/**
 * Fuzz test of the conntrack codec: mutated nfnetlink_conntrack datagrams,
 * made from the captured ones (test/fixtures/nfct/) with a fixed seed, through
 * decodeDatagram and the NFCT source's record filling with every key wanted.
 * The first cases cut every seed at every length; the rest flip bits, set
 * attribute lengths (top-level and nested) to boundary values, drop,
 * duplicate and reorder attributes, change message types and flags, and join
 * messages. No case may throw or break an invariant (a field outside its
 * range, an offset outside the datagram). SPECTER_FUZZ_CASES and
 * SPECTER_FUZZ_SEED run other cases.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { decodeDatagram } from '../../plugins/source/NFCT/codec.js';
import { Flow, type FlowTuple } from '../../plugins/source/NFCT/flow.js';
import { ROOT } from '../daemon.js';
import { Rng } from './nflog-mutate.js';
import { FlowFiller } from './nfct-filler.js';

const CASES = Number(process.env.SPECTER_FUZZ_CASES ?? 1_000_000);
const SEED = Number(process.env.SPECTER_FUZZ_SEED ?? 0x5eed2026);
const DIR = path.join(ROOT, 'test', 'fixtures', 'nfct');
const seeds = fs
  .readdirSync(DIR)
  .filter((f) => f.endsWith('.bin'))
  .sort()
  .map((f) => fs.readFileSync(path.join(DIR, f)));

/** Offsets of every attribute header of a well-formed message, nested ones included (NLA_F_NESTED). */
function attrHeaders(b: Buffer): number[] {
  const out: number[] = [];
  const walk = (off: number, end: number) => {
    while (off + 4 <= end) {
      const len = b.readUInt16LE(off);
      if (len < 4 || off + len > end) return;
      out.push(off);
      if (b.readUInt16LE(off + 2) & 0x8000) walk(off + 4, off + len);
      off += (len + 3) & ~3;
    }
  };
  walk(20, Math.min(b.length, b.readUInt32LE(0)));
  return out;
}

const headers = seeds.map(attrHeaders);

function makeCase(rng: Rng, i: number, sweep: number[]): Buffer {
  // Cuts first: seed s at every length.
  if (i < sweep[sweep.length - 1]) {
    const s = sweep.findIndex((end) => i < end);
    const cut = i - (s === 0 ? 0 : sweep[s - 1]);
    return seeds[s].subarray(0, cut);
  }
  const s = rng.int(seeds.length);
  let b = Buffer.from(seeds[s]);
  const hs = headers[s];
  const n = 1 + rng.int(3);
  for (let k = 0; k < n; k++) {
    switch (rng.int(7)) {
      case 0: {
        // bit flips and bytes set
        const m = 1 + rng.int(4);
        for (let j = 0; j < m; j++) {
          const at = rng.int(b.length);
          b[at] = rng.pick([0, 0xff, rng.int(256), b[at] ^ (1 << rng.int(8))]);
        }
        break;
      }
      case 1: {
        // an attribute length at a boundary
        const h = rng.pick(hs);
        if (h + 2 <= b.length)
          b.writeUInt16LE(rng.pick([0, 1, 3, 4, 5, 7, 8, 11, 12, 16, 20, b.readUInt16LE(h) - 1, b.readUInt16LE(h) + 1, 0xffff, rng.int(0x10000)]) & 0xffff, h);
        break;
      }
      case 2: // the message length
        if (b.length < 4) break;
        b.writeUInt32LE(rng.pick([0, 15, 16, 19, 20, b.length - 1, b.length + 1, 0xffffffff, rng.int(b.length + 64)]) >>> 0, 0);
        break;
      case 3: // message type and flags
        if (b.length < 8) break;
        b.writeUInt16LE(rng.pick([0x100, 0x101, 0x102, 0x103, 2, 3, rng.int(0x10000)]), 4);
        b.writeUInt16LE(rng.pick([0, 2, 0x200, 0x400, 0x600, rng.int(0x10000)]), 6);
        break;
      case 4: {
        // drop an attribute's bytes, or duplicate them in place
        const h = rng.pick(hs);
        if (h + 4 > b.length) break;
        const len = (b.readUInt16LE(h) + 3) & ~3;
        const piece = b.subarray(h, Math.min(b.length, h + len));
        b = rng.chance(0.5) ? Buffer.concat([b.subarray(0, h), b.subarray(h + piece.length)]) : Buffer.concat([b.subarray(0, h), piece, b.subarray(h)]);
        if (rng.chance(0.7) && b.length >= 4) b.writeUInt32LE(b.length, 0);
        break;
      }
      case 5: // another message after this one
        b = Buffer.concat([b, rng.pick(seeds)]);
        break;
      default: // truncate
        b = b.subarray(0, rng.int(b.length + 1));
    }
  }
  return b;
}

function checkTuple(t: FlowTuple, buf: Buffer, what: string): void {
  if (![0, 4, 16].includes(t.addrLen)) throw new Error(`${what} address length ${t.addrLen}`);
  if (t.addrLen > 0 && (t.srcOff + t.addrLen > buf.length || t.dstOff + t.addrLen > buf.length)) throw new Error(`${what} address past the datagram`);
  for (const [k, v, max] of [
    ['proto', t.proto, 255],
    ['sport', t.sport, 65535],
    ['dport', t.dport, 65535],
    ['icmpType', t.icmpType, 255],
    ['icmpCode', t.icmpCode, 255],
    ['icmpId', t.icmpId, 65535],
    ['zone', t.zone, 65535],
  ] as const) {
    if (!Number.isInteger(v) || v < -1 || v > max) throw new Error(`${what} ${k} ${v}`);
  }
}

function check(f: Flow): void {
  if (![0, 1, 2, 4].includes(f.event)) throw new Error(`event ${f.event}`);
  checkTuple(f.orig, f.buf, 'orig');
  checkTuple(f.reply, f.buf, 'reply');
  for (const [k, v] of Object.entries({ op: f.origPackets, ob: f.origBytes, rp: f.replyPackets, rb: f.replyBytes })) {
    if (!Number.isInteger(v) || v < -1) throw new Error(`counter ${k} ${v}`);
  }
  for (const [s, ns] of [
    [f.startSec, f.startNsec],
    [f.stopSec, f.stopNsec],
  ]) {
    if ((s === -1) !== (ns === -1) || s > 0xffffffff || ns >= 1e9 || !Number.isInteger(ns)) throw new Error(`time ${s}.${ns}`);
  }
  if (f.labelsLen >= 0 && f.labelsOff + f.labelsLen > f.buf.length) throw new Error('labels past the datagram');
}

describe('nfnetlink_conntrack fuzz', () => {
  it(`${CASES} mutated datagrams through the codec and the NFCT record filling`, { timeout: 10 * 60_000 }, (t) => {
    const rng = new Rng();
    const flow = new Flow();
    const filler = new FlowFiller();
    const sweep: number[] = [];
    for (const s of seeds) sweep.push((sweep.at(-1) ?? 0) + s.length);
    const stats = { flows: 0, malformed: 0 };
    const failures = new Map<string, string>();
    const started = Date.now();
    for (let i = 0; i < CASES; i++) {
      rng.seed(SEED, i);
      const input = makeCase(rng, i, sweep);
      try {
        decodeDatagram(
          input,
          flow,
          {
            flow: (f) => {
              check(f);
              filler.fill(f);
            },
            ack: () => {},
            done: () => {},
          },
          stats,
        );
      } catch (err) {
        const kind = (err as Error).message;
        if (!failures.has(kind)) failures.set(kind, `case ${i}: ${kind}\n  input ${input.toString('hex')}`);
      }
    }
    t.diagnostic(`${CASES} cases, ${stats.flows} flows decoded, ${stats.malformed} malformed, ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.equal(failures.size, 0, [...failures.values()].join('\n'));
    assert.ok(stats.flows > CASES / 3, 'most cases decode a flow');
  });
});
