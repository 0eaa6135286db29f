/**
 * `npm run bench` (as root): NFLOG consumers side by side on the same
 * machine in the same run. A namespace, an nft rule
 * `udp dport 9000 counter log group 7 drop`, a C load generator, and for each
 * consumer: packets logged by the kernel (the rule's counter), packets
 * written, loss, CPU seconds and µs per packet, peak RSS, start-up time.
 *
 *   npm run bench -- [--packets N] [--quick] [--only specter,ulogd2 PCAP,...] [--rates max,100000] [--profile]
 *
 * --profile runs each specter under `node --cpu-prof` and prints its hottest functions.
 * --pipeline measures specter's own CPU per packet instead, without the kernel (bench/pipeline.ts).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/daemon.js';
import { NetNs, waitFor } from '../test/netns.js';
import { consumers, type Consumer } from './consumers.js';
import { cpuSeconds, peakRssMb } from './proc.js';
import { OUTPUTS } from './pipeline.js';
import { topFunctions } from './profile.js';

const GROUP = 7;
const PORT = 9000;
const PAYLOAD = 64;

interface Row {
  consumer: string;
  rate: string;
  logged: number;
  written: number;
  loss: number;
  cpu: number;
  /** Share of the CPU time spent in the kernel (receiving, writing files). */
  sysShare: number;
  usPerPkt: number;
  rssMb: number;
  startMs: number;
  offeredPps: number;
  /** Records written per second, from the first packet sent to the last record written. */
  writtenPerSec: number;
}

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

function counter(ns: NetNs): number {
  const m = /packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 'bench', 'logged']));
  return m ? Number(m[1]) : 0;
}

async function runOne(ns: NetNs, gen: string, c: Consumer, packets: number, rate: number): Promise<Row> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-bench-'));
  try {
    ns.exec('nft', ['reset', 'counter', 'ip', 'bench', 'logged']);
    const [cmd, ...args] = c.command(dir, GROUP);
    const t0 = performance.now();
    const child: ChildProcess = ns.spawn(cmd, args);
    child.on('error', () => undefined);
    let out = '';
    child.stdout!.on('data', (d) => { out += d; });
    child.stderr!.on('data', (d) => { out += d; });
    if (typeof c.ready === 'number') await new Promise((r) => setTimeout(r, c.ready as number));
    else await waitFor(() => out.includes(c.ready as string), 10000, `${c.name} to start`);
    const startMs = performance.now() - t0;
    // CPU from here on: the per-packet cost, without the runtime's own start-up.
    const cpu0 = cpuSeconds(child.pid!);
    const tSend = performance.now();
    const sent = ns.exec(gen, ['127.0.0.1', String(PORT), String(packets), String(rate), String(PAYLOAD)]).trim().split(' ');
    const offeredPps = Number(sent[0]) / Number(sent[1]);
    // Let the consumer drain: wait until its output stops growing for a second.
    let last = -1;
    let stableSince = Date.now();
    let lastGrowth = performance.now();
    const deadline = Date.now() + 120000;
    while (Date.now() < deadline) {
      const n = c.written(dir);
      if (n !== last) { last = n; stableSince = Date.now(); lastGrowth = performance.now(); }
      if (Date.now() - stableSince > 1000) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${c.name} exited early: ${out.trim().split('\n').slice(-3).join(' / ')}`);
    const cpu1 = cpuSeconds(child.pid!);
    const cpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
    const sysShare = cpu > 0 ? (cpu1.sys - cpu0.sys) / cpu : 0;
    const rss = peakRssMb(child.pid!);
    const exited = new Promise((r) => child.on('exit', r));
    child.kill(c.name.startsWith('tcpdump') ? 'SIGINT' : 'SIGTERM');
    await exited;
    const logged = counter(ns);
    const written = c.written(dir);
    return {
      consumer: c.name, rate: rate ? `${rate / 1000}k pps` : 'max', logged, written,
      loss: logged ? Math.max(0, 1 - written / logged) : 0,
      cpu, sysShare, usPerPkt: written ? (cpu * 1e6) / written : NaN, rssMb: rss, startMs, offeredPps,
      writtenPerSec: written / ((lastGrowth - tSend) / 1000),
    };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
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
  child.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
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
  console.log(`\n${packets.toLocaleString('en')} captured packets, 5 rounds, one process per output and round; CPU µs per packet of BASE + the output, no kernel:\n`);
  console.log('| output | µs/packet (median) | min | max |\n|---|---:|---:|---:|');
  for (const [name, xs] of samples) console.log(`| ${name} | ${median(xs).toFixed(2)} | ${Math.min(...xs).toFixed(2)} | ${Math.max(...xs).toFixed(2)} |`);
}

function newestProfile(dir: string): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  const newest = files.sort((a, b) => fs.statSync(b).mtimeMs - fs.statSync(a).mtimeMs)[0];
  return newest ? `${newest}\n${topFunctions(newest)}` : 'no profile was written';
}

function table(rows: Row[]): string {
  const head = '| consumer | offered | offered pps | logged by kernel | written | written/s | loss | CPU s | of it in kernel | CPU µs/packet | peak RSS MB | start ms |';
  const sep = '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|';
  const body = rows.map((r) => `| ${r.consumer} | ${r.rate} | ${Math.round(r.offeredPps).toLocaleString('en')} | ${r.logged.toLocaleString('en')} | ${r.written.toLocaleString('en')} | ${Math.round(r.writtenPerSec).toLocaleString('en')} | ${(r.loss * 100).toFixed(1)} % | ${r.cpu.toFixed(2)} | ${(r.sysShare * 100).toFixed(0)} % | ${r.usPerPkt.toFixed(2)} | ${r.rssMb.toFixed(0)} | ${r.startMs.toFixed(0)} |`);
  return [head, sep, ...body].join('\n');
}

/** CPU per packet of each specter output relative to the ulogd2 stack with the same output, same rate. */
function ratios(rows: Row[]): string {
  const out: string[] = [];
  for (const r of rows.filter((x) => x.consumer.startsWith('specter'))) {
    const kind = r.consumer.split(' ')[1];
    const u = rows.find((x) => x.consumer === `ulogd2 ${kind}` && x.rate === r.rate);
    if (u && u.usPerPkt > 0) out.push(`- ${kind} at ${r.rate}: specter uses ${(r.usPerPkt / u.usPerPkt).toFixed(2)}× the CPU per packet of ulogd2 (${r.usPerPkt.toFixed(2)} vs ${u.usPerPkt.toFixed(2)} µs); loss ${(r.loss * 100).toFixed(1)} % vs ${(u.loss * 100).toFixed(1)} %`);
  }
  return out.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      packets: { type: 'string' },
      quick: { type: 'boolean' },
      only: { type: 'string' },
      rates: { type: 'string', default: 'max,100000' },
      profile: { type: 'boolean' },
      pipeline: { type: 'boolean' },
    },
  });
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, nftables)');
  const packets = Number(values.packets ?? (values.quick ? 100000 : 1000000));
  const rates = values.rates!.split(',').map((r) => (r === 'max' ? 0 : Number(r)));
  if (!fs.existsSync('/usr/sbin/ulogd') && (!values.only || values.only.includes('ulogd'))) installUlogd();
  const profiles = path.join(ROOT, 'bench', 'results', 'profiles');
  let list = consumers(values.profile ? ['--cpu-prof', '--cpu-prof-dir', profiles] : []);
  if (values.only) {
    const wanted = values.only.split(',');
    list = list.filter((c) => wanted.some((w) => c.name.startsWith(w)));
  }
  if (!fs.existsSync('/usr/sbin/ulogd') && (!values.only || values.only.includes('ulogd'))) console.log('ulogd2 is not installed (apt-get install ulogd2 ulogd2-pcap ulogd2-json): measuring without it');

  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-bench-gen-'));
  const gen = buildGenerator(work);
  const ns = new NetNs('specter-bench');
  const rows: Row[] = [];
  const cleanup = () => { ns.delete(); fs.rmSync(work, { recursive: true, force: true }); };
  process.on('SIGINT', () => { cleanup(); process.exit(130); });
  try {
    if (values.pipeline) {
      ns.nft(`table ip bench {\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${PORT} log group ${GROUP} drop\n  }\n}\n`);
      await pipelineBench(ns, gen, Math.min(packets, 100000), work);
      return;
    }
    ns.nft(`table ip bench {\n  counter logged { }\n  chain input {\n    type filter hook input priority 0; policy accept;\n    udp dport ${PORT} counter name logged log group ${GROUP} drop\n  }\n}\n`);
    for (const rate of rates) {
      for (const c of list) {
        process.stdout.write(`${c.name}, ${rate ? `${rate} pps` : 'max rate'}, ${packets} packets ... `);
        try {
          const row = await runOne(ns, gen, c, packets, rate);
          rows.push(row);
          console.log(`${(row.loss * 100).toFixed(1)} % loss, ${row.usPerPkt.toFixed(2)} µs/packet`);
          if (values.profile && c.name.startsWith('specter')) console.log(newestProfile(profiles));
        } catch (err) {
          console.log(`failed: ${(err as Error).message}`);
        }
      }
    }
  } finally {
    cleanup();
  }
  const md = `# Benchmark ${new Date().toISOString()}\n\n${os.cpus().length} × ${os.cpus()[0]?.model ?? 'CPU'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Linux ${os.release()}, Node ${process.version}; ${packets.toLocaleString('en')} UDP packets of ${PAYLOAD} bytes per run, one nft rule to NFLOG group ${GROUP}.\n\n${table(rows)}\n\n${ratios(rows)}\n`;
  fs.mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
  fs.writeFileSync(path.join(ROOT, 'bench', 'results', 'latest.md'), md);
  console.log(`\n${md}`);
}

main().catch((err) => {
  console.error(`bench failed: ${(err as Error).message}`);
  process.exit(1);
});
