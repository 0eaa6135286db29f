/**
 * CPU per packet of specter's own work, without the kernel (`npm run bench --
 * --pipeline`). Two steps, each its own process:
 *
 *   node dist/bench/pipeline.js capture GROUP PACKETS FILE
 *     in the bench namespace: binds the group and saves the NFLOG datagrams
 *   node dist/bench/pipeline.js measure FILE OUTPUT
 *     feeds them through BASE and one output, built as the daemon builds them,
 *     and prints CPU µs per packet
 *
 * One output per process keeps the JIT's view as in the daemon (one pipeline);
 * the bench takes turns between outputs so a noisy machine weighs on each alike.
 * A tool for profiling and A/B changes: figures against ulogd2 come from the main bench.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { Pipeline } from '../src/core/pipeline.js';
import { buildAll } from '../src/daemon.js';
import { Packet } from '../src/core/packet.js';
import { decodeDatagram } from '../src/nflog/codec.js';
import { NFLOG_OPTIONS, nflogSettings } from '../src/nflog/options.js';
import { NflogSource } from '../src/nflog/source.js';
import '../test/builtins.js';

export const OUTPUTS: Array<[string, string]> = [
  ['PCAP', 'pcapfile DIR/out.pcap'],
  ['LOGEMU', 'logemufile DIR/out.log'],
  ['JSON', 'jsonfile DIR/out.json'],
  ['JSON ecs', 'jsonfile DIR/ecs.json\n jsonnaming ecs'],
  ['SQLITE3', 'sqlite3db DIR/out.db'],
];

const silent = pino({ level: 'silent' });

/** Binds the group and keeps the datagrams (one Buffer each) until `packets` have come. */
async function capture(group: number, packets: number): Promise<Buffer[]> {
  const defaults = Object.fromEntries(Object.entries(NFLOG_OPTIONS).map(([k, s]) => [k, s.default]));
  const source = new NflogSource(group, nflogSettings(defaults, 128 * 1024), { rmem: 64 * 1024 * 1024 }, silent);
  const datagrams: Buffer[] = [];
  let seen = 0;
  let last: Buffer | null = null;
  let done!: () => void;
  const enough = new Promise<void>((r) => {
    done = r;
  });
  await source.start({
    packet(pkt: Packet) {
      if (pkt.buf !== last) datagrams.push((last = pkt.buf));
      seen++;
    },
    endBatch() {
      if (seen >= packets) done();
    },
    busy: () => false,
    committed: () => 0,
    onCommit() {},
  });
  console.log('bound');
  await enough;
  await source.stop();
  return datagrams;
}

/** Datagrams as a file: each one after its length (u32). */
function save(file: string, datagrams: Buffer[]): void {
  const parts: Buffer[] = [];
  for (const d of datagrams) {
    const len = Buffer.alloc(4);
    len.writeUInt32LE(d.length);
    parts.push(len, d);
  }
  fs.writeFileSync(file, Buffer.concat(parts));
}

function load(file: string): Buffer[] {
  const b = fs.readFileSync(file);
  const out: Buffer[] = [];
  for (let o = 0; o < b.length; o += 4 + b.readUInt32LE(o)) out.push(b.subarray(o + 4, o + 4 + b.readUInt32LE(o)));
  return out;
}

async function build(name: string, dir: string) {
  const [plugin, opts] = OUTPUTS.find(([n]) => n === name) ?? [];
  if (!plugin || opts === undefined) throw new Error(`unknown output ${name}`);
  const conf = path.join(dir, 'specter.conf');
  fs.writeFileSync(conf, `1 {\n plugin BASE\n plugin ${plugin.split(' ')[0]}\n ${opts.replace(/DIR/g, dir)}\n}\n`);
  if (plugin === 'SQLITE3') {
    const { default: Database } = await import('better-sqlite3');
    new Database(path.join(dir, 'out.db'))
      .exec(
        'CREATE TABLE ulog (id INTEGER PRIMARY KEY, oob_time_sec INTEGER, oob_prefix TEXT, ip_saddr_str TEXT, ip_daddr_str TEXT, ip_protocol INTEGER, udp_sport INTEGER, udp_dport INTEGER, raw_pktlen INTEGER)',
      )
      .close();
  }
  const { groups, keys } = await buildAll(conf, silent, false);
  const g = groups[0];
  for (const st of [...g.outputs, ...g.inputs]) await st.instance.start?.();
  return {
    pipeline: new Pipeline(g.inputs, g.outputs, keys.size),
    async close() {
      for (const st of g.outputs) await st.instance.close?.();
    },
  };
}

/** Feeds every datagram once, as the source does, letting I/O run between datagrams; CPU µs per packet. */
async function feed(pipeline: Pipeline, datagrams: Buffer[]): Promise<number> {
  const pkt = new Packet();
  const onPacket = (p: Packet) => pipeline.packet(p);
  const stats = { packets: 0, malformed: 0 };
  const t0 = process.cpuUsage();
  for (let i = 0; i < datagrams.length; i++) {
    decodeDatagram(datagrams[i], pkt, onPacket, stats);
    pipeline.endBatch();
    if (i % 16 === 15) await new Promise((r) => setImmediate(r));
  }
  const t = process.cpuUsage(t0);
  return (t.user + t.system) / stats.packets;
}

async function measure(file: string, output: string): Promise<void> {
  const datagrams = load(file);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-pipeline-'));
  try {
    const s = await build(output, dir);
    await feed(s.pipeline, datagrams); // warm-up: the JIT compiles the hot path
    const samples = [await feed(s.pipeline, datagrams), await feed(s.pipeline, datagrams), await feed(s.pipeline, datagrams)];
    await s.close();
    console.log(samples.sort((a, b) => a - b)[1].toFixed(3));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const [mode, ...args] = process.argv.slice(2);
  if (mode === 'capture') save(args[2], await capture(Number(args[0]), Number(args[1])));
  else if (mode === 'measure') await measure(args[0], args[1]);
  else throw new Error('usage: pipeline.js capture GROUP PACKETS FILE | measure FILE OUTPUT');
}

// Run as a script; bench.ts imports OUTPUTS only.
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error(`pipeline bench failed: ${(err as Error).message}`);
    process.exit(1);
  });
}
