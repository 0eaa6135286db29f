/**
 * `npm run bench` (as root): NFLOG consumers side by side on the same
 * machine in the same run. A namespace, an nft rule
 * `udp dport 9000 counter log group 7 drop`, a C load generator, and for each
 * consumer: packets logged by the kernel (the rule's counter), packets
 * written, loss, CPU seconds and µs per packet, peak RSS, start-up time, and
 * the receive buffer the kernel gave its socket.
 *
 *   npm run bench -- [--packets N] [--quick] [--only specter,ulogd2 PCAP,...] [--rates max,100000]
 *                    [--rmem 8M] [--default-buffers] [--dir /dev/shm] [--profile]
 *
 * Every consumer gets the same effective receive buffer (--rmem, 8 MiB by
 * default) and the normal scheduler (ulogd2 makes itself real-time at start; the
 * bench sets it back); --default-buffers adds a second table with each at its own defaults.
 * --capacity [--steps 100000,150000,...] [--seconds 10]: the highest paced rate each output keeps with 0 loss.
 * --idle [--seconds 60]: CPU and memory of a bound daemon without traffic.
 * --warmup N: packets sent (at 50k pps, not counted) before each measured run, 100,000 by default.
 * --dir: where the output files go (default: the temporary directory); a tmpfs measures the daemons rather than the disk.
 * --profile runs each specter under `node --cpu-prof` and prints its hottest functions;
 * --node-args=--perf-basic-prof passes arguments to each specter's Node (for `perf record -p PID`).
 * --pipeline measures specter's own CPU per packet instead, without the kernel (bench/pipeline.ts).
 * --forward [--sensors 4] [--rate 30000] [--seconds 10] [--outage 60] [--outage-rate 20000] [--parts cpu,file,pgsql,backlog,outage]: sensors → NATS
 *   JetStream → a collector, to a file and to PostgreSQL, and a NATS outage (bench/forward.ts).
 * --flows [--rates 5000,20000,50000] [--seconds 10] [--flow-warmup 100000] [--repeat 1]: connection logging, specter's
 *   source NFCT beside ulogd2's NFCT to JSON and IPFIX, CPU per flow and loss (bench/flows.ts); --repeat N
 *   runs every consumer N times, alternating, and gives the ratio of each round and their median.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/daemon.js';
import { NetNs, waitFor } from '../test/netns.js';
import { capacity, capacityTables } from './capacity.js';
import { consumers, type Buffers, type Consumer } from './consumers.js';
import { flowsBench } from './flows.js';
import { forwardBench } from './forward.js';
import { OUTPUTS } from './pipeline.js';
import { topFunctions } from './profile.js';
import { GROUP, idle, killAll, outputBase, PAYLOAD, PORT, runOne, scheduling, warmup, type IdleRow, type Row } from './run.js';

/**
 * Debian's ulogd2 for the side-by-side rows. A temporary policy-rc.d keeps the
 * package from starting a ulogd service that would hold NFLOG groups.
 */
function installUlogd(): void {
  const policy = '/usr/sbin/policy-rc.d';
  const ours = !fs.existsSync(policy);
  console.log('installing ulogd2, ulogd2-pcap, ulogd2-json for the comparison ...');
  try {
    if (ours) fs.writeFileSync(policy, '#!/bin/sh\nexit 101\n', { mode: 0o755 });
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = () => execFileSync('apt-get', ['install', '-y', '-q', 'ulogd2', 'ulogd2-pcap', 'ulogd2-json'], { stdio: 'ignore', env });
    try {
      install();
    } catch {
      // A fresh machine may not have the package lists yet.
      execFileSync('apt-get', ['update', '-q'], { stdio: 'ignore', env });
      install();
    }
  } catch {
    console.log('could not install ulogd2: measuring without it');
  } finally {
    if (ours) fs.rmSync(policy, { force: true });
  }
}

function buildGenerator(dir: string): string {
  const bin = path.join(dir, 'udpflood');
  execFileSync('cc', ['-O2', '-o', bin, path.join(ROOT, 'bench', 'udpflood.c')]);
  return bin;
}

/**
 * bench/pipeline.ts: datagrams captured in the namespace at 100k pps, then
 * each output measured in its own process, in turns; the median of the rounds.
 */
async function pipelineBench(ns: NetNs, gen: string, packets: number, dir: string): Promise<void> {
  const script = path.join(ROOT, 'dist', 'bench', 'pipeline.js');
  const file = path.join(dir, 'datagrams.bin');
  const child = ns.spawn(process.execPath, [script, 'capture', String(GROUP), String(packets), file], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', r));
  await waitFor(() => out.includes('bound'), 10000, 'the pipeline bench to bind');
  ns.exec(gen, ['127.0.0.1', String(PORT), String(packets), '100000', String(PAYLOAD)]);
  if ((await exited) !== 0) throw new Error('capturing datagrams failed');
  const samples = new Map<string, number[]>(OUTPUTS.map(([name]) => [name, []]));
  for (let round = 0; round < 5; round++) {
    for (const [name, list] of samples) {
      list.push(Number(execFileSync(process.execPath, [script, 'measure', file, name], { encoding: 'utf8' }).trim()));
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  console.log(
    `\n${packets.toLocaleString('en')} captured packets, 5 rounds, one process per output and round; CPU µs per packet of BASE + the output, no kernel:\n`,
  );
  console.log('| output | µs/packet (median) | min | max |\n|---|---:|---:|---:|');
  for (const [name, xs] of samples) console.log(`| ${name} | ${median(xs).toFixed(2)} | ${Math.min(...xs).toFixed(2)} | ${Math.max(...xs).toFixed(2)} |`);
}

function newestProfile(dir: string): string {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile'))
    .map((f) => path.join(dir, f));
  const newest = files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  return newest ? `${newest}\n${topFunctions(newest)}` : 'no profile was written';
}

const mib = (bytes: number) => (Number.isFinite(bytes) ? `${+(bytes / 2 ** 20).toFixed(bytes < 2 ** 20 ? 2 : 1)} MiB` : '?');

function table(rows: Row[]): string {
  const head =
    '| consumer | offered | offered pps | receive buffer | scheduling | logged by kernel | written | written/s | loss | CPU s | of it in kernel | CPU µs/packet | peak RSS MB | start ms |';
  const sep = '|---|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map(
    (r) =>
      `| ${r.consumer} | ${r.rate} | ${Math.round(r.offeredPps).toLocaleString('en')} | ${mib(r.rcvbuf)} | ${r.sched} | ${r.logged.toLocaleString('en')} | ${r.written.toLocaleString('en')} | ${Math.round(r.writtenPerSec).toLocaleString('en')} | ${(r.loss * 100).toFixed(1)} % | ${r.cpu.toFixed(2)} | ${(r.sysShare * 100).toFixed(0)} % | ${r.usPerPkt.toFixed(2)} | ${r.rssMb.toFixed(0)} | ${r.startMs.toFixed(0)} |`,
  );
  return [head, sep, ...body].join('\n');
}

/** CPU per packet of each specter output relative to the ulogd2 stack with the same output, same rate. */
function ratios(rows: Row[]): string {
  const out: string[] = [];
  for (const r of rows.filter((x) => x.consumer.startsWith('specter'))) {
    const kind = r.consumer.split(' ')[1];
    const u = rows.find((x) => x.consumer === `ulogd2 ${kind}` && x.rate === r.rate);
    if (u && u.usPerPkt > 0)
      out.push(
        `- ${kind} at ${r.rate}: specter uses ${(r.usPerPkt / u.usPerPkt).toFixed(2)}× the CPU per packet of ulogd2 (${r.usPerPkt.toFixed(2)} vs ${u.usPerPkt.toFixed(2)} µs); loss ${(r.loss * 100).toFixed(1)} % vs ${(u.loss * 100).toFixed(1)} %`,
      );
  }
  return out.join('\n');
}

function idleTable(rows: IdleRow[]): string {
  return [
    '| consumer | CPU % | RSS MB | peak RSS MB |',
    '|---|---:|---:|---:|',
    ...rows.map((r) => `| ${r.consumer} | ${r.cpuPercent.toFixed(3)} | ${r.rssMb.toFixed(0)} | ${r.peakRssMb.toFixed(0)} |`),
  ].join('\n');
}

/** A size as `rmem` takes it: bytes, or a number with K, M or G (binary). */
function parseSize(text: string): number {
  const m = /^(\d+)([KMG]?)$/i.exec(text.trim());
  if (!m) throw new Error(`--rmem ${text}: expected a size such as 8M`);
  return Number(m[1]) * 1024 ** ' KMG'.indexOf((m[2] || ' ').toUpperCase());
}

/** Each consumer at each rate, in turns (one consumer after the other per rate). */
async function sideBySide(ns: NetNs, gen: string, list: Consumer[], packets: number, rates: number[], profiles: string | null): Promise<Row[]> {
  const rows: Row[] = [];
  for (const rate of rates) {
    for (const c of list) {
      process.stdout.write(`${c.name}, ${rate ? `${rate} pps` : 'max rate'}, ${packets} packets ... `);
      try {
        const row = await runOne(ns, gen, c, packets, rate);
        rows.push(row);
        console.log(`${(row.loss * 100).toFixed(1)} % loss, ${row.usPerPkt.toFixed(2)} µs/packet, receive buffer ${mib(row.rcvbuf)}`);
        if (profiles && c.daemon === 'specter') console.log(newestProfile(profiles));
      } catch (err) {
        console.log(`failed: ${(err as Error).message}`);
      }
    }
  }
  return rows;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      rates: { type: 'string' },
      rmem: { type: 'string', default: '8M' },
      'default-buffers': { type: 'boolean' },
      capacity: { type: 'boolean' },
      steps: { type: 'string', default: '100000,150000,200000,250000,300000,400000' },
      seconds: { type: 'string' },
      idle: { type: 'boolean' },
      dir: { type: 'string' },
      'node-args': { type: 'string' },
      warmup: { type: 'string' },
      profile: { type: 'boolean' },
      pipeline: { type: 'boolean' },
      forward: { type: 'boolean' },
      flows: { type: 'boolean' },
      'flow-warmup': { type: 'string', default: '100000' },
      repeat: { type: 'string' },
      sensors: { type: 'string', default: '4' },
      rate: { type: 'string', default: '30000' },
      outage: { type: 'string', default: '60' },
      'outage-rate': { type: 'string', default: '20000' },
      parts: { type: 'string', default: 'cpu,file,pgsql,backlog,outage' },
    },
  });
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, nftables)');
  const packets = Number(values.packets ?? (values.quick ? 100000 : 1000000));
  const rates = (values.rates ?? 'max,100000').split(',').map((r) => (r === 'max' ? 0 : Number(r)));
  const equal: Buffers = { effective: parseSize(values.rmem!) };
  if (values.dir) outputBase.dir = path.resolve(values.dir);
  if (values.warmup !== undefined) warmup.packets = Number(values.warmup);
  const wantUlogd = !values.forward && (!values.only || values.only.includes('ulogd'));
  if (!fs.existsSync('/usr/sbin/ulogd') && wantUlogd) installUlogd();
  if (!fs.existsSync('/usr/sbin/ulogd') && wantUlogd)
    console.log('ulogd2 is not installed (apt-get install ulogd2 ulogd2-pcap ulogd2-json): measuring without it');
  const profiles = values.profile ? path.join(ROOT, 'bench', 'results', 'profiles') : null;
  const nodeArgs = [...(profiles ? ['--cpu-prof', '--cpu-prof-dir', profiles] : []), ...(values['node-args']?.split(' ').filter(Boolean) ?? [])];
  const pick = (b: Buffers, only = values.only) => {
    const list = consumers(b, nodeArgs);
    const wanted = only?.split(',');
    return wanted ? list.filter((c) => wanted.some((w) => c.name.startsWith(w))) : list;
  };

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-bench-gen-'));
  const gen = buildGenerator(work);
  const ns = new NetNs('specter-bench');
  const cleanup = () => {
    ns.delete();
    fs.rmSync(work, { recursive: true, force: true });
  };
  process.on('SIGINT', () => {
    killAll();
    cleanup();
    process.exit(130);
  });
  const machine = `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}`;
  const sections: string[] = [];
  let file = 'latest.md';
  try {
    if (values.pipeline) {
      ns.nft(
        `table ip bench {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${PORT} log group ${GROUP} drop\n  }\n}\n`,
      );
      await pipelineBench(ns, gen, Math.min(packets, 100000), work);
      return;
    }
    ns.nft(
      `table ip bench {\n  counter logged { }\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${PORT} counter name logged log group ${GROUP} drop\n  }\n}\n`,
    );
    if (values.capacity) {
      file = 'capacity.md';
      const seconds = Number(values.seconds ?? 10);
      const steps = values.steps!.split(',').map(Number);
      // The file outputs ulogd2 has too, unless --only names others.
      const list = pick(equal, values.only ?? 'specter PCAP,specter LOGEMU,specter JSON,ulogd2 PCAP,ulogd2 LOGEMU,ulogd2 JSON');
      const results = await capacity(ns, gen, list, steps, seconds, (line) => console.log(line));
      sections.push(
        `## Sustained capacity, equal receive buffers (${mib(equal.effective!)} each), normal scheduling\n\nPaced steps of ${seconds} s each (${steps.map((x) => `${x / 1000}k`).join(', ')} pps), 0 loss = every packet the kernel logged is in the output.\n\n${capacityTables(results)}`,
      );
    } else if (values.idle) {
      file = 'idle.md';
      // CPU time comes in 10 ms ticks: 0.1 % needs a minute to show.
      const seconds = Number(values.seconds ?? 60);
      const rows: IdleRow[] = [];
      for (const c of pick(equal, values.only ?? 'specter PCAP,ulogd2 PCAP')) rows.push(await idle(ns, c, seconds));
      sections.push(`## Idle, one group bound, no traffic, ${seconds} s\n\n${idleTable(rows)}`);
    } else if (values.forward) {
      file = 'forward.md';
      const o = {
        sensors: Number(values.sensors),
        rate: Number(values.rate),
        seconds: Number(values.seconds ?? 10),
        outage: Number(values.outage),
        outageRate: Number(values['outage-rate']),
        parts: new Set(values.parts.split(',').map((x) => x.trim())),
        nodeArgs,
      };
      sections.push(await forwardBench(ns, gen, o, (line) => console.log(line)));
    } else if (values.flows) {
      file = 'flows.md';
      const o = {
        rates: (values.rates ?? '5000,20000,50000').split(',').map(Number),
        seconds: Number(values.seconds ?? 10),
        warmupFlows: Number(values['flow-warmup']),
        repeat: Number(values.repeat ?? 1),
        rmem: equal.effective!,
        only: values.only,
        nodeArgs,
        profiles,
      };
      sections.push(await flowsBench(ns, work, o, (line) => console.log(line)));
    } else {
      const rows = await sideBySide(ns, gen, pick(equal), packets, rates, profiles);
      sections.push(
        `## Equal receive buffers (${mib(equal.effective!)} each, as the kernel holds it), normal scheduling\n\n${table(rows)}\n\nRatios (specter's CPU per packet / ulogd2's, same run and rate):\n\n${ratios(rows)}`,
      );
      if (values['default-buffers']) {
        scheduling.normal = false;
        const rows = await sideBySide(ns, gen, pick({ effective: null }), packets, rates, profiles);
        sections.push(`## Each consumer at its default receive buffer and scheduling\n\n${table(rows)}\n\nRatios:\n\n${ratios(rows)}`);
      }
    }
  } finally {
    cleanup();
  }
  const md = `# Benchmark ${new Date().toISOString()}\n\n${machine}${values.flows ? '' : `; UDP packets of ${PAYLOAD} bytes${values.capacity ? '' : `, ${packets.toLocaleString('en')} per run`}, one nft rule to NFLOG group ${GROUP}; output files in ${outputBase.dir}; ${warmup.packets ? `${warmup.packets.toLocaleString('en')} packets at 50k pps before each run, not counted` : 'no warm-up'}`}.\n\n${sections.join('\n\n')}\n`;
  fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', file), md);
  console.log(`\n${md}`);
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
