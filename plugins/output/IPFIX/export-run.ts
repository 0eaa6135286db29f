/**
 * Test helpers: deterministic flows of every kind (IPv4 and IPv6; TCP, UDP,
 * ICMP; SNAT, DNAT and none; counters past 32 bits), exported by a real
 * group (the test flow input, then IPFIX, assembled as the daemon does), and
 * a pcap writer for what a test collector received, for tshark to decode.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Packet, type OptionValue } from 'specter/plugin';
import { assembleTest, groupOf } from '../../../test/output-harness.js';
import { type Flow, queued } from './flow-input.js';
import IPFIX from './index.js';

const FLOW_INPUT = path.join(path.dirname(new URL(import.meta.url).pathname), 'flow-input.js');

/** n flows; their times lie within the last hour, with milliseconds. */
export function makeFlows(n: number): Flow[] {
  const base = Date.now() - 3600_000;
  const flows: Flow[] = [];
  for (let i = 0; i < n; i++) {
    const v6 = i % 3 === 2;
    const protocol = [6, 17, v6 ? 58 : 1][i % 4 === 3 ? 2 : i % 2];
    const ports = protocol !== 1 && protocol !== 58;
    const a = (x: number, y: number) => (v6 ? `2001:db8:${x.toString(16)}::${(y + 1).toString(16)}` : `10.${x}.${(y + 1) >> 8}.${(y + 1) & 0xff}`);
    const saddr = a(1, i);
    const daddr = v6 ? `2001:db8:ffff::${((i % 200) + 1).toString(16)}` : `192.0.2.${(i % 200) + 1}`;
    const sport = ports ? 10000 + i : undefined;
    const dport = ports ? [53, 80, 443, 8080][i % 4] : undefined;
    // Every third flow is source-NATed, every third destination-NATed, the rest untranslated.
    const nat = i % 3;
    const snat = v6 ? `2001:db8:5::${((i % 50) + 1).toString(16)}` : `203.0.113.${(i % 50) + 1}`;
    const dnat = v6 ? `2001:db8:6::${((i % 50) + 1).toString(16)}` : `198.51.100.${(i % 50) + 1}`;
    const start = base + i * 997 + (i % 1000);
    const big = i % 7 === 0;
    flows.push({
      family: v6 ? 6 : 4,
      saddr,
      daddr,
      protocol,
      sport,
      dport,
      rsaddr: nat === 2 ? dnat : daddr,
      rdaddr: nat === 1 ? snat : saddr,
      rsport: dport,
      rdport: ports && nat === 1 ? 30000 + i : sport,
      pkts: 1 + (i % 13),
      bytes: big ? 0x1_0000_0000 + i : 60 * (1 + (i % 13)) + i,
      rpkts: i % 5,
      rbytes: big ? 0x2_0000_0000 + i : 80 * (i % 5),
      start,
      end: start + (i % 90) * 1013,
      icmpType: ports ? undefined : 8,
      icmpCode: ports ? undefined : 0,
      id: 1000 + i,
      mark: i % 4,
    });
  }
  return flows;
}

export interface ExportOptions {
  /** Flows per batch (default 50). */
  batch?: number;
  /** Awaited after each batch. */
  between?: () => Promise<void>;
  /** False: close() at once, as at the shutdown deadline, without flush(). */
  flush?: boolean;
}

/** Exports the flows in batches through a started IPFIX output, flushes and closes it. */
export async function exportFlows(flows: readonly Flow[], options: { [name: string]: OptionValue }, run: ExportOptions = {}) {
  const { batch = 50, between, flush = true } = run;
  const { grp, pipeline } = await assembleTest(groupOf([FLOW_INPUT], 'IPFIX', options), [IPFIX]);
  const stage = grp.outputs[0];
  await stage.instance.start?.();
  const pkt = new Packet();
  for (let i = 0; i < flows.length; i += batch) {
    queued.push(...flows.slice(i, i + batch));
    for (let j = i; j < Math.min(i + batch, flows.length); j++) pipeline.packet(pkt);
    pipeline.endBatch();
    await between?.();
  }
  if (flush) await stage.instance.flush();
  await stage.instance.close();
  return { counters: stage.counters.snapshot(), committed: stage.commits.settled };
}

/**
 * A pcap (raw IPv4 link type) with one packet per payload, from 127.0.0.1
 * to 127.0.0.1 on `port`: UDP datagrams, or TCP segments carrying the
 * stream in order (one per connection, from its own client port).
 */
export function writePcap(file: string, port: number, udp: readonly Buffer[] | null, tcp: readonly (readonly Buffer[])[] = []): void {
  const parts: Buffer[] = [];
  const gh = Buffer.alloc(24);
  gh.writeUInt32LE(0xa1b2c3d4, 0);
  gh.writeUInt16LE(2, 4);
  gh.writeUInt16LE(4, 6);
  gh.writeUInt32LE(65535, 16);
  gh.writeUInt32LE(101, 20); // LINKTYPE_RAW
  parts.push(gh);
  let t = 0;
  const packet = (l4: Buffer, proto: number) => {
    const ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip[8] = 64;
    ip[9] = proto;
    ip.writeUInt32BE(0x7f000001, 12);
    ip.writeUInt32BE(0x7f000001, 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
    ip.writeUInt16BE(~sum & 0xffff, 10);
    const rh = Buffer.alloc(16);
    t++;
    rh.writeUInt32LE(1_700_000_000 + Math.floor(t / 1000), 0);
    rh.writeUInt32LE((t % 1000) * 1000, 4);
    rh.writeUInt32LE(20 + l4.length, 8);
    rh.writeUInt32LE(20 + l4.length, 12);
    parts.push(rh, ip, l4);
  };
  for (const d of udp ?? []) {
    const h = Buffer.alloc(8);
    h.writeUInt16BE(50000, 0);
    h.writeUInt16BE(port, 2);
    h.writeUInt16BE(8 + d.length, 4);
    packet(Buffer.concat([h, d]), 17);
  }
  tcp.forEach((segments, c) => {
    let seq = 1000;
    for (const d of segments) {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(50001 + c, 0);
      h.writeUInt16BE(port, 2);
      h.writeUInt32BE(seq, 4);
      h.writeUInt32BE(1, 8);
      h[12] = 5 << 4;
      h[13] = 0x18; // PSH, ACK
      h.writeUInt16BE(65535, 14);
      packet(Buffer.concat([h, d]), 6);
      seq += d.length;
    }
  });
  fs.writeFileSync(file, Buffer.concat(parts));
}

export interface ParsedMessage {
  length: number;
  exportTime: number;
  sequence: number;
  domain: number;
  /** Set ids in order, with the number of records of data sets. */
  sets: Array<{ id: number; length: number }>;
}

/** Splits a TCP stream (or reads one datagram) into IPFIX message headers and set headers. */
export function parseMessages(data: Buffer): ParsedMessage[] {
  const out: ParsedMessage[] = [];
  let o = 0;
  while (o < data.length) {
    if (data.readUInt16BE(o) !== 10) throw new Error(`version ${data.readUInt16BE(o)} at ${o}`);
    const length = data.readUInt16BE(o + 2);
    const m: ParsedMessage = { length, exportTime: data.readUInt32BE(o + 4), sequence: data.readUInt32BE(o + 8), domain: data.readUInt32BE(o + 12), sets: [] };
    let s = o + 16;
    while (s < o + length) {
      const sl = data.readUInt16BE(s + 2);
      if (sl < 4 || s + sl > o + length) throw new Error(`set length ${sl} at ${s}`);
      m.sets.push({ id: data.readUInt16BE(s), length: sl });
      s += sl;
    }
    out.push(m);
    o += length;
  }
  return out;
}
