/**
 * `npm run bench -- --forward`: forwarding through NATS JetStream, on this
 * machine, in one namespace (the bench's): a nats-server, sensors (specter
 * with BASE and the NATS output, one nft rule and NFLOG group each, fed by
 * the UDP generator) and a collector (`source NATS`) writing a file or
 * PostgreSQL. Four measures, each in the same run:
 *
 * 1. the NATS output's CPU per record on a sensor beside the JSON output's;
 * 2. sensors → collector → JSON file, and → PGSQL: records per second, loss;
 * 3. a NATS outage in the middle of a paced stream: how fast the backlog
 *    drains (beside the live rate) while live records keep flowing; and
 *    (backlog) the collector alone on a backlog already in the stream;
 * 4. every process's peak resident memory.
 *
 *   --forward [--sensors 4] [--rate 30000] [--seconds 10] [--outage 60] [--outage-rate 20000] [--parts cpu,file,pgsql,backlog,outage]
 */
import { execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI } from '../test/daemon.js';
import { NatsServer } from '../test/nats-server.js';
import { type NetNs, waitFor } from '../test/netns.js';
import { cpuSeconds, machineCpu, peakRssMb } from './proc.js';
import { outputBase, PAYLOAD } from './run.js';

const BASE_PORT = 9100;
const BASE_GROUP = 20;

export interface ForwardOptions {
  sensors: number;
  /** Packets per second per sensor for the throughput runs. */
  rate: number;
  seconds: number;
  outage: number;
  outageRate: number;
  /** The measures to run: cpu, file, pgsql, outage. */
  parts: ReadonlySet<string>;
  /** Arguments for each specter's Node (--cpu-prof). */
  nodeArgs: readonly string[];
}

interface Proc {
  name: string;
  child: ChildProcess;
  out: () => string;
  stop(): Promise<void>;
}

function spawnIn(ns: NetNs, name: string, cmd: string, args: string[]): Proc {
  const child = ns.spawn(cmd, args);
  let out = '';
  child.stdout!.on('data', (d) => {
    out += d;
  });
  child.stderr!.on('data', (d) => {
    out += d;
  });
  const exited = new Promise((r) => child.on('exit', r));
  return {
    name,
    child,
    out: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await exited;
      }
    },
  };
}

async function specter(ns: NetNs, dir: string, name: string, conf: string, nodeArgs: readonly string[]): Promise<Proc> {
  const file = path.join(dir, `${name}.conf`);
  fs.writeFileSync(file, conf);
  const p = spawnIn(ns, name, process.execPath, [...nodeArgs, CLI, '-c', file]);
  await waitFor(
    () => {
      if (p.child.exitCode !== null) throw new Error(`${name} exited: ${p.out().trim().split('\n').slice(-3).join(' / ')}`);
      return p.out().includes('specter started');
    },
    20000,
    `${name} to start`,
  );
  return p;
}

/** Lines counted so far per file: each count reads only what was appended since the last (a full read of a large file every 250 ms would load the machine being measured). */
const counted = new Map<string, { pos: number; n: number }>();
const chunk = Buffer.allocUnsafe(1 << 20);

function lineCount(file: string): number {
  let c = counted.get(file);
  if (!c) counted.set(file, (c = { pos: 0, n: 0 }));
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch {
    return 0;
  }
  try {
    for (;;) {
      const got = fs.readSync(fd, chunk, 0, chunk.length, c.pos);
      if (got <= 0) break;
      for (let i = chunk.indexOf(10); i !== -1 && i < got; i = chunk.indexOf(10, i + 1)) c.n++;
      c.pos += got;
    }
  } finally {
    fs.closeSync(fd);
  }
  return c.n;
}

/** The bytes in the sensors' spools: SIGUSR1 makes each log its counters, `spool_bytes` among them (NaN if one did not answer). */
async function spoolBytes(sensors: Proc[]): Promise<number> {
  const from = sensors.map((p) => p.out().length);
  for (const p of sensors) p.child.kill('SIGUSR1');
  await new Promise((r) => setTimeout(r, 150));
  return sensors.reduce((sum, p, i) => {
    const lines = p
      .out()
      .slice(from[i])
      .split('\n')
      .filter((l) => l.includes('"spool_bytes"'));
    return sum + (lines.length ? Number(JSON.parse(lines.at(-1)!).spool_bytes) : Number.NaN);
  }, 0);
}

/** Waits until `count()` stops growing for `quietMs`; returns the time of its last growth (performance.now()). */
async function drained(count: () => number, maxMs = 300000, quietMs = 1500): Promise<number> {
  let last = -1;
  let since = Date.now();
  let grew = performance.now();
  const end = Date.now() + maxMs;
  while (Date.now() < end) {
    const n = count();
    if (n !== last) {
      last = n;
      since = Date.now();
      grew = performance.now();
    }
    if (Date.now() - since > quietMs) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  return grew;
}

export async function forwardBench(ns: NetNs, gen: string, o: ForwardOptions, log: (line: string) => void): Promise<string> {
  const dir = fs.mkdtempSync(path.join(outputBase.dir, 'specter-bench-fwd-'));
  const counters = Array.from({ length: o.sensors }, (_, i) => ` counter f${i} { }\n`).join('');
  const rules = Array.from({ length: o.sensors }, (_, i) => `    udp dport ${BASE_PORT + i} counter name f${i} log group ${BASE_GROUP + i} drop\n`).join('');
  ns.nft(`table ip fwdbench {\n${counters}  chain input {\n    type filter hook input priority 0; policy accept;\n${rules}  }\n}\n`);
  const logged = (i: number) => Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 'fwdbench', `f${i}`]))![1]);
  /** Every sensor's counter added up, in one nft call (the bench polls it: a call per sensor every 50 ms took a large share of a core). */
  const loggedAll = () => {
    const text = ns.exec('nft', ['list', 'counters', 'table', 'ip', 'fwdbench']);
    let sum = 0;
    for (const m of text.matchAll(/counter f\d+ \{\s*packets (\d+)/g)) sum += Number(m[1]);
    return sum;
  };
  const resetCounters = () => {
    for (let i = 0; i < o.sensors; i++) ns.exec('nft', ['reset', 'counter', 'ip', 'fwdbench', `f${i}`]);
  };
  const nats = new NatsServer(ns, path.join(dir, 'jetstream'));
  const procs: Proc[] = [];
  const peaks = new Map<string, number>();
  const notePeak = (p: Proc) => {
    try {
      peaks.set(p.name, Math.max(peaks.get(p.name) ?? 0, peakRssMb(p.child.pid!)));
    } catch {
      /* gone */
    }
  };
  const sensorConf = (i: number, output: string, global = '') => `global {\n sensor s${i}\n${global}}\n${BASE_GROUP + i} {\n plugin BASE\n${output}}\n`;
  // Each measure has a stream of its own, so that its collector reads only its records.
  let phase = 0;
  const natsOut = (i: number) =>
    ` plugin NATS\n natsurl ${nats.url}\n natsstream B${phase}\n natssubject b${phase}.$sensor.$group\n spooldir ${path.join(dir, `spool-${i}`)}\n`;
  const send = (i: number, packets: number, rate: number) =>
    ns.spawn(gen, ['127.0.0.1', String(BASE_PORT + i), String(packets), String(rate), String(PAYLOAD)]);
  const sections: string[] = [];
  const db = `specter_bench_${randomBytes(3).toString('hex')}`;
  const psql = (database: string, sql: string) =>
    execFileSync('psql', ['-h', '/var/run/postgresql', '-U', 'postgres', '-d', database, '-qAt', '-v', 'ON_ERROR_STOP=1', '-c', sql], {
      encoding: 'utf8',
    }).trim();
  // JetStream reserves a stream's natsmaxbytes on its store when it creates it: each measure's stream gets what it needs.
  const collector = async (output: string, maxBytes = '1G', again = false) => {
    if (!again) phase++;
    const p = await specter(
      ns,
      dir,
      `collector${phase}${again ? '-again' : ''}`,
      `100 {\n source NATS\n natsurl ${nats.url}\n natsstream B${phase}\n natssubjects b${phase}.>\n natsdurable bench\n natsbatch 1000\n natsmaxpending 20000\n natsmaxbytes ${maxBytes}\n${output}}\n`,
      o.nodeArgs,
    );
    procs.push(p);
    return p;
  };
  try {
    await nats.start();

    // 1. CPU per record on a sensor: JSON to a file, then NATS (with a collector draining the stream).
    const packets = o.rate * o.seconds;
    const cpuRow = async (label: string, output: string, count: () => number, others: Proc[] = []) => {
      resetCounters();
      const s = await specter(ns, dir, `cpu-${label}`, sensorConf(0, output), o.nodeArgs);
      const c0 = cpuSeconds(s.child.pid!);
      await new Promise<void>((r) => send(0, packets, o.rate).on('exit', () => r()));
      await drained(count);
      const c1 = cpuSeconds(s.child.pid!);
      notePeak(s);
      for (const p of others) notePeak(p);
      await s.stop();
      const n = count();
      return { label, n, logged: logged(0), us: ((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / n };
    };
    // JSON and NATS take turns three times; each one's lowest figure counts (other work on the machine only adds).
    if (o.parts.has('cpu')) await cpuMeasure();
    async function cpuMeasure() {
      log(`sensor CPU: JSON and NATS by turns, 3 times, ${packets} records at ${o.rate} pps ...`);
      const rows: Array<Awaited<ReturnType<typeof cpuRow>>> = [];
      for (let turn = 0; turn < 3; turn++) {
        const jsonFile = path.join(dir, `sensor-${turn}.json`);
        rows.push(await cpuRow('JSON', ` plugin JSON\n jsonfile ${jsonFile}\n`, () => lineCount(jsonFile)));
        const collectedCpu = path.join(dir, `collected-cpu-${turn}.json`);
        const coll = await collector(` plugin JSON\n jsonfile ${collectedCpu}\n jsonfields sensor.name,sensor.seq\n`);
        rows.push(
          await cpuRow('NATS', natsOut(0), () => lineCount(collectedCpu), [
            coll,
            { name: 'nats-server', child: nats.proc!, out: () => '', stop: async () => {} },
          ]),
        );
        await coll.stop();
      }
      const best = (label: string) => Math.min(...rows.filter((r) => r.label === label).map((r) => r.us));
      sections.push(
        `### Sensor CPU per record\n\n| output | records | logged | µs/record |\n|---|---:|---:|---:|\n` +
          rows.map((r) => `| ${r.label} | ${r.n} | ${r.logged} | ${r.us.toFixed(2)} |`).join('\n') +
          `\n\nNATS / JSON, the lowest of three turns each: ${(best('NATS') / best('JSON')).toFixed(2)}× (${best('NATS').toFixed(2)} vs ${best('JSON').toFixed(2)} µs; goal ≤ 1.5×)`,
      );
    }

    // 2. Sensors → collector → a file, then → PGSQL.
    const throughput = async (label: string, output: string, count: (final?: boolean) => number) => {
      resetCounters();
      const coll = await collector(output);
      const sensors: Proc[] = [];
      for (let i = 0; i < o.sensors; i++) sensors.push(await specter(ns, dir, `${label}-s${i}`, sensorConf(i, natsOut(i)), o.nodeArgs));
      const t0 = performance.now();
      const m0 = machineCpu();
      const c0 = cpuSeconds(coll.child.pid!);
      const gens = Array.from({ length: o.sensors }, (_, i) => send(i, packets, o.rate));
      const sampler = setInterval(() => {
        for (const p of [...sensors, coll]) notePeak(p);
      }, 1000);
      const sent = Promise.all(gens.map((g) => new Promise((r) => g.on('exit', r))));
      // The steady rate: from 3 s after the start (sensors and collector warm) to the end of sending.
      await new Promise((r) => setTimeout(r, 3000));
      const tA = performance.now();
      const nA = count();
      const loggedA = loggedAll();
      await sent;
      const tB = performance.now();
      const nB = count();
      const loggedB = loggedAll();
      const tLast = await drained(() => count());
      const m1 = machineCpu();
      const c1 = cpuSeconds(coll.child.pid!);
      clearInterval(sampler);
      for (const p of [...sensors, coll]) notePeak(p);
      for (const p of sensors) await p.stop();
      await coll.stop();
      const total = loggedAll();
      const n = count(true);
      const busy = (m1.busy - m0.busy) / (m1.total - m0.total);
      return {
        label,
        total,
        n,
        perSec: n / ((tLast - t0) / 1000),
        steady: (n - nA) / ((tLast - tA) / 1000),
        offered: (loggedB - loggedA) / ((tB - tA) / 1000),
        behind: loggedB - nB,
        busy,
        collectorUs: ((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / n,
      };
    };
    const rowsOut: Array<Awaited<ReturnType<typeof throughput>>> = [];
    if (o.parts.has('file')) {
      log(`${o.sensors} sensors → collector → JSON file, ${packets} records each at ${o.rate} pps ...`);
      const fileOut = path.join(dir, 'collected.json');
      rowsOut.push(
        await throughput('file', ` plugin JSON\n jsonfile ${fileOut}\n jsonfields sensor.name,sensor.seq,oob.prefix,ip.saddr,udp.dport\n`, () =>
          lineCount(fileOut),
        ),
      );
    }
    if (o.parts.has('pgsql')) {
      log(`${o.sensors} sensors → collector → PGSQL ...`);
      psql('postgres', `CREATE DATABASE ${db}`);
      psql(
        db,
        'CREATE TABLE ulog (id bigserial PRIMARY KEY, sensor_name text, sensor_seq bigint, ip_saddr_str text, udp_dport integer, UNIQUE (sensor_name, sensor_seq))',
      );
      rowsOut.push(
        await throughput(
          'pgsql',
          ` plugin PGSQL\n pgsqlhost /var/run/postgresql\n pgsqluser postgres\n pgsqldb ${db}\n pgsqltable ulog\n pgsqlspooldir ${path.join(dir, 'pgspool')}\n`,
          // While the table grows, the highest id (ids have no gaps without refused rows); count(*) of a million rows, four times a second, loaded the server being measured.
          (final) => Number(psql(db, final ? 'SELECT count(*) FROM ulog' : 'SELECT coalesce(max(id), 0) FROM ulog')),
        ),
      );
    }
    if (rowsOut.length)
      sections.push(
        `### ${o.sensors} sensors → one collector, ${o.rate} pps each for ${o.seconds} s\n\n| collector output | logged | written | loss | logged/s (steady) | written/s (steady, to the last) | behind at the end of sending | records/s, first sent to last written | collector CPU µs/record | machine busy (all cores) |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n` +
          rowsOut
            .map(
              (r) =>
                `| ${r.label} | ${r.total} | ${r.n} | ${((1 - r.n / r.total) * 100).toFixed(2)} % | ${Math.round(r.offered)} | ${Math.round(r.steady)} | ${r.behind} | ${Math.round(r.perSec)} | ${r.collectorUs.toFixed(2)} | ${(r.busy * 100).toFixed(0)} % |`,
            )
            .join('\n') +
          '\n\nSteady: from 3 s after the first packet to the end of sending (logged), to the last record written (written). Goals: file ≥ 100,000 records/s sustained with 0 loss; PGSQL ≥ 50,000 rows/s.',
      );

    // 3a. The collector alone on a backlog already in the stream: how fast it can drain with the cores to itself.
    if (o.parts.has('backlog')) await backlogMeasure();
    async function backlogMeasure() {
      const per = o.outageRate * 30;
      log(`backlog: ${o.sensors} × ${per} records into the stream, then the collector alone ...`);
      resetCounters();
      const outFile = path.join(dir, 'collected-backlog.json');
      const output = ` plugin JSON\n jsonfile ${outFile}\n jsonfields sensor.name,sensor.seq\n`;
      // Started once to make the stream and the durable, then away while the sensors fill the stream.
      await (await collector(output, '4G')).stop();
      const sensors: Proc[] = [];
      for (let i = 0; i < o.sensors; i++) sensors.push(await specter(ns, dir, `backlog-s${i}`, sensorConf(i, natsOut(i)), o.nodeArgs));
      await Promise.all(Array.from({ length: o.sensors }, (_, i) => new Promise((r) => send(i, per, o.outageRate).on('exit', r))));
      await waitFor(async () => (await spoolBytes(sensors)) === 0, 120000, 'the sensors to have every record in the stream');
      for (const p of sensors) await p.stop();
      const total = loggedAll();
      const coll = await collector(output, '4G', true);
      const t0 = performance.now();
      const c0 = cpuSeconds(coll.child.pid!);
      const m0 = machineCpu();
      const tLast = await drained(() => lineCount(outFile), 300000, 3000);
      const c1 = cpuSeconds(coll.child.pid!);
      const m1 = machineCpu();
      notePeak(coll);
      await coll.stop();
      const n = lineCount(outFile);
      const s = (tLast - t0) / 1000;
      sections.push(
        `### The collector alone on a backlog of ${total} records in the stream\n\n` +
          `Collected ${n} of ${total} in ${s.toFixed(1)} s: ${Math.round(n / s)} records/s, ` +
          `${(n / s / (o.outageRate * o.sensors)).toFixed(1)}× the outage measure's live rate; ` +
          `the collector used ${((c1.user + c1.sys - c0.user - c0.sys) / s).toFixed(2)} of a core (${(((c1.user + c1.sys - c0.user - c0.sys) * 1e6) / n).toFixed(2)} µs per record), the cores were ${(((m1.busy - m0.busy) / (m1.total - m0.total)) * 100).toFixed(0)} % busy.`,
      );
    }

    // 3. An outage in the middle of a paced stream: the backlog drains while live records keep coming.
    if (o.parts.has('outage')) await outageMeasure();
    async function outageMeasure() {
      log(`outage: ${o.sensors} sensors at ${o.outageRate} pps, NATS away ${o.outage} s ...`);
      resetCounters();
      const outFile = path.join(dir, 'collected-outage.json');
      const coll = await collector(` plugin JSON\n jsonfile ${outFile}\n jsonfields sensor.name,sensor.seq\n`, '4G');
      const sensors: Proc[] = [];
      for (let i = 0; i < o.sensors; i++) sensors.push(await specter(ns, dir, `outage-s${i}`, sensorConf(i, natsOut(i)), o.nodeArgs));
      const streamSeconds = o.outage + 10 + Math.ceil(o.outage / 2);
      const gens = Array.from({ length: o.sensors }, (_, i) => send(i, o.outageRate * streamSeconds, o.outageRate)).map(
        (g) => new Promise((r) => g.on('exit', r)),
      );
      const sampler = setInterval(() => {
        for (const p of [...sensors, coll]) notePeak(p);
      }, 1000);
      await new Promise((r) => setTimeout(r, 5000));
      await nats.stop('SIGKILL');
      await new Promise((r) => setTimeout(r, o.outage * 1000));
      const backlogAt = performance.now();
      const backlog = loggedAll() - lineCount(outFile);
      await nats.start();
      // Who used the cores while the backlog drained.
      const drainProcs = [...sensors, coll, { name: 'nats-server', child: nats.proc! } as Proc];
      const cpuAt = (p: Proc) => {
        try {
          const c = cpuSeconds(p.child.pid!);
          return c.user + c.sys;
        } catch {
          return 0;
        }
      };
      const d0 = drainProcs.map(cpuAt);
      const dm0 = machineCpu();
      // The sensors' spools: when their backlog is in the stream.
      const spoolPeak = await spoolBytes(sensors);
      let spoolS = Number.NaN;
      const spoolWatch = (async () => {
        const until = performance.now() + streamSeconds * 1000;
        while (performance.now() < until) {
          // Under one second of live records per sensor, about 200 bytes each.
          if ((await spoolBytes(sensors)) < o.sensors * o.outageRate * 200) {
            spoolS = (performance.now() - backlogAt) / 1000;
            return;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      log(`NATS back after ${((performance.now() - backlogAt) / 1000).toFixed(1)} s of start-up; backlog ${backlog} records`);
      // Caught up: the collector is within one second of live traffic of the kernel's count.
      const live = o.outageRate * o.sensors;
      let caughtUp = true;
      try {
        // Polled every 500 ms: each poll runs nft in the namespace, on the cores being measured.
        await waitFor(
          async () => {
            if (loggedAll() - lineCount(outFile) < live) return true;
            await new Promise((r) => setTimeout(r, 450));
            return false;
          },
          streamSeconds * 1000,
          'the backlog to drain',
        );
      } catch {
        caughtUp = false;
      }
      const drainS = (performance.now() - backlogAt) / 1000;
      await spoolWatch;
      const dm1 = machineCpu();
      const drainCpu = drainProcs.map((p, i) => `${p.name} ${((cpuAt(p) - d0[i]) / drainS).toFixed(2)}`).join(', ');
      const drainBusy = (dm1.busy - dm0.busy) / (dm1.total - dm0.total);
      await Promise.all(gens);
      // Longer than natstimeout: a publish whose answer the killed server never sent is sent again after it.
      await drained(() => lineCount(outFile), 300000, 8000);
      clearInterval(sampler);
      for (const p of [...sensors, coll]) notePeak(p);
      for (const p of sensors) await p.stop();
      await coll.stop();
      const total = loggedAll();
      const missing = total - lineCount(outFile);
      if (missing !== 0)
        for (const s of sensors)
          log(
            `${s.name}: ${s
              .out()
              .trim()
              .split('\n')
              .filter((l) => /spool|lost|drop|ENOBUFS|counters/i.test(l))
              .slice(-3)
              .join(' / ')}`,
          );
      const drainRate = backlog / drainS + live;
      sections.push(
        `### NATS away ${o.outage} s, ${o.sensors} sensors at ${o.outageRate} pps each\n\n` +
          `The sensors' spools held ${(spoolPeak / 1e6).toFixed(0)} MB when NATS came back; they were in the stream ${spoolS.toFixed(1)} s later: ` +
          `${Math.round(backlog / spoolS + live)} records/s from the spools, ${((backlog / spoolS + live) / live).toFixed(1)}× the live rate. ` +
          (caughtUp
            ? `Backlog ${backlog} records, drained in ${drainS.toFixed(1)} s while ${live} records/s kept coming: ` +
              `${Math.round(drainRate)} records/s through the collector, ${(drainRate / live).toFixed(1)}× the live rate (goal ≥ 3×). `
            : `Backlog ${backlog} records, not caught up with the live stream within ${drainS.toFixed(0)} s. `) +
          `Logged ${total}, collected ${lineCount(outFile)} (${missing} missing). ` +
          `While it drained the cores were ${(drainBusy * 100).toFixed(0)} % busy; cores used per process: ${drainCpu}.`,
      );
    }

    sections.push(
      `### Peak resident memory\n\n| process | peak RSS MB |\n|---|---:|\n` +
        [...peaks].map(([n, mb]) => `| ${n} | ${mb.toFixed(0)} |`).join('\n') +
        '\n\nGoal: ≤ 150 MB each.',
    );
    return `## Forwarding over NATS JetStream (${os.cpus().length} cores, nats-server in the same namespace)\n\n${sections.join('\n\n')}`;
  } finally {
    for (const p of procs) await p.stop();
    await nats.stop();
    try {
      psql('postgres', `DROP DATABASE IF EXISTS ${db} WITH (FORCE)`);
    } catch {
      /* never created */
    }
    ns.exec('nft', ['delete', 'table', 'ip', 'fwdbench']);
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
