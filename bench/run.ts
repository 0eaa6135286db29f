/**
 * One bench run: a consumer started in the namespace, a burst or a paced
 * stream from the generator, the drain, and what the consumer cost.
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type NetNs, waitFor } from '../test/netns.js';
import type { Consumer } from './consumers.js';
import { cpuSeconds, netfilterReceiveBuffer, peakRssMb, policyOf, rssMb } from './proc.js';

export const GROUP = 7;
export const PORT = 9000;
export const PAYLOAD = 64;

export interface Row {
  consumer: string;
  rate: string;
  /** Packets per second asked of the generator; 0 = as fast as it can. */
  pace: number;
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
  /** The consumer's netlink receive buffer as the kernel holds it, in bytes. */
  rcvbuf: number;
  /** Its scheduling policy while it ran: normal, or e.g. "RR 99". */
  sched: string;
}

/** Where the consumers' output files go (--dir): the default temporary directory, or e.g. a tmpfs to take the disk out. */
export const outputBase = { dir: os.tmpdir() };

export const scheduling = {
  /**
   * Every consumer under the normal scheduler: ulogd2 makes itself SCHED_RR at
   * the highest priority at start, which on a busy machine lets it preempt
   * everything else, the generator included. Off for the default-configuration runs.
   */
  normal: true,
};

export function counter(ns: NetNs): number {
  const m = /packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 'bench', 'logged']));
  return m ? Number(m[1]) : 0;
}

/** Consumers running now and their directories, stopped and removed by killAll when the bench is interrupted. */
const live = new Map<ChildProcess, string>();

export function killAll(): void {
  for (const [child, dir] of live) {
    child.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface Started {
  child: ChildProcess;
  dir: string;
  startMs: number;
  output: () => string;
  stop(): Promise<void>;
}

/** Starts a consumer with a fresh directory and waits until it is bound. */
export async function start(ns: NetNs, c: Consumer): Promise<Started> {
  const dir = fs.mkdtempSync(path.join(outputBase.dir, 'specter-bench-'));
  const [cmd, ...args] = c.command(dir, GROUP);
  const t0 = performance.now();
  const child = ns.spawn(cmd, args);
  live.set(child, dir);
  child.on('error', () => undefined);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((r) => child.on('exit', r));
  void exited.then(() => live.delete(child));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(c.daemon === 'tcpdump' ? 'SIGINT' : 'SIGTERM');
      await exited;
    }
  };
  try {
    if (typeof c.ready === 'number') await new Promise((r) => setTimeout(r, c.ready as number));
    else await waitFor(() => out.includes(c.ready as string) || child.exitCode !== null, 10000, `${c.name} to start`);
    if (child.exitCode !== null) throw new Error(`${c.name} exited at start: ${out.trim().split('\n').slice(-3).join(' / ')}`);
    if (scheduling.normal && policyOf(child.pid!) !== 'normal') execFileSync('chrt', ['-a', '-o', '-p', '0', String(child.pid)]);
  } catch (err) {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return { child, dir, startMs: performance.now() - t0, output: () => out, stop };
}

/** Waits until the consumer's output has not grown for a second; returns when it last grew. */
async function drained(c: Consumer, dir: string): Promise<number> {
  let last = -1;
  let stableSince = Date.now();
  let lastGrowth = performance.now();
  const deadline = Date.now() + 120000;
  while (Date.now() < deadline) {
    const n = c.written(dir);
    if (n !== last) {
      last = n;
      stableSince = Date.now();
      lastGrowth = performance.now();
    }
    if (Date.now() - stableSince > 1000) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return lastGrowth;
}

/**
 * Packets sent at WARMUP_RATE before each measured run and not counted
 * (--warmup): a burst meets a daemon that has been running, as in service,
 * not one whose JIT has yet to compile its packet path.
 */
export const warmup = { packets: 100000 };
const WARMUP_RATE = 50000;

export async function runOne(ns: NetNs, gen: string, c: Consumer, packets: number, rate: number): Promise<Row> {
  const s = await start(ns, c);
  const { child, dir } = s;
  try {
    const rcvbuf = netfilterReceiveBuffer(child.pid!, (cmd, args) => ns.exec(cmd, args));
    const sched = policyOf(child.pid!);
    if (warmup.packets > 0) {
      ns.exec(gen, ['127.0.0.1', String(PORT), String(warmup.packets), String(WARMUP_RATE), String(PAYLOAD)]);
      await drained(c, dir);
    }
    const before = c.written(dir);
    ns.exec('nft', ['reset', 'counter', 'ip', 'bench', 'logged']);
    // CPU from here on: the per-packet cost, without the runtime's own start-up.
    const cpu0 = cpuSeconds(child.pid!);
    const tSend = performance.now();
    const sent = ns
      .exec(gen, ['127.0.0.1', String(PORT), String(packets), String(rate), String(PAYLOAD)])
      .trim()
      .split(' ');
    const offeredPps = Number(sent[0]) / Number(sent[1]);
    const lastGrowth = await drained(c, dir);
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${c.name} exited early: ${s.output().trim().split('\n').slice(-3).join(' / ')}`);
    const cpu1 = cpuSeconds(child.pid!);
    const cpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
    const sysShare = cpu > 0 ? (cpu1.sys - cpu0.sys) / cpu : 0;
    const rss = peakRssMb(child.pid!);
    await s.stop();
    const logged = counter(ns);
    const written = c.written(dir) - before;
    return {
      consumer: c.name,
      rate: rate ? `${rate / 1000}k pps` : 'max',
      pace: rate,
      logged,
      written,
      loss: logged ? Math.max(0, 1 - written / logged) : 0,
      cpu,
      sysShare,
      usPerPkt: written ? (cpu * 1e6) / written : NaN,
      rssMb: rss,
      startMs: s.startMs,
      offeredPps,
      writtenPerSec: written / ((lastGrowth - tSend) / 1000),
      rcvbuf,
      sched,
    };
  } finally {
    await s.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export interface IdleRow {
  consumer: string;
  cpuPercent: number;
  rssMb: number;
  peakRssMb: number;
}

/** A bound consumer with no traffic: CPU share over `seconds` (after settling for 2 s) and memory. */
export async function idle(ns: NetNs, c: Consumer, seconds: number): Promise<IdleRow> {
  const s = await start(ns, c);
  try {
    // Start-up is over first: V8's memory reducer runs its garbage collections in the first seconds of quiet after it.
    await new Promise((r) => setTimeout(r, 15000));
    const cpu0 = cpuSeconds(s.child.pid!);
    const t0 = performance.now();
    await new Promise((r) => setTimeout(r, seconds * 1000));
    const cpu1 = cpuSeconds(s.child.pid!);
    const wall = (performance.now() - t0) / 1000;
    const used = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
    return { consumer: c.name, cpuPercent: (used / wall) * 100, rssMb: rssMb(s.child.pid!), peakRssMb: peakRssMb(s.child.pid!) };
  } finally {
    await s.stop();
    fs.rmSync(s.dir, { recursive: true, force: true });
  }
}
