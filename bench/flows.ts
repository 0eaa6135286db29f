/**
 * `npm run bench -- --flows`: connection logging, specter's `source NFCT`
 * beside ulogd2's NFCT input, in the bench's namespace, one daemon at a time,
 * each at the same effective receive buffer and under the normal scheduler.
 *
 * bench/flowflood.c sends UDP datagrams from a new source address and port
 * each, so every datagram is a new conntrack entry; an output rule DNATs them
 * to another port (the reply tuple differs, as behind NAT), counts them
 * (`ct state new`: the flows created) and the input hook drops them. The
 * generator deletes the namespace's entries every FLUSH_MS (`conntrack -F`
 * over netlink), so each flow ends within that time with a destroy event, and
 * each daemon writes one record per destroy event:
 *
 *   NFCT → JSON file, with and without reliable delivery (`ctreliable on`, ulogd2's `reliable=1`)
 *   NFCT → IPFIX over UDP to a collector in the namespace that counts the data records it gets
 *
 * CPU per flow is taken over a steady window (from the end of the first
 * --flow-warmup flows to the end of the generator): the daemon's CPU time in
 * the window over the records it wrote in it. The warm-up is a number of flows,
 * not of seconds, so that every rate measures a daemon that has handled as many
 * (its JIT compiled, its buffers grown) as a daemon running for days has. Loss
 * is 1 - written/created after the table is empty and the output has stopped growing.
 *
 *   --flows [--rates 5000,20000,50000] [--seconds 10] [--flow-warmup 100000] [--rmem 8M] [--only "specter JSON,ulogd2 JSON"] [--repeat N]
 *
 * With --repeat N every consumer runs N times at each rate, in rounds (each
 * round runs them all in turn), and each ratio compares runs of one round: a
 * machine whose speed drifts moves both sides of it alike.
 *
 * Run as a script, `node dist/bench/flows.js sink PORT` is that collector.
 */
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CLI, ROOT } from '../test/daemon.js';
import { type NetNs, waitFor } from '../test/netns.js';
import { type Consumer, lines, ULOGD_LIB, ulogdBuffer } from './consumers.js';
import { cpuSeconds, netfilterReceiveBuffer, peakRssMb, policyOf } from './proc.js';
import { topFunctions } from './profile.js';
import { outputBase, start } from './run.js';

/** Where the flows go (DNATed to PORT + 1) and where the IPFIX collector listens. */
const PORT = 9999;
const SINK_PORT = 4739;
/**
 * The flows end by a flush of the table this often. Ending them by timeout
 * leaves it to the kernel's garbage collector, which on this bench's kernel
 * (6.18) ended 1 s flows 4 to 30 s late and in bursts of tens of thousands: the
 * runs would measure the collector. The timeout stays short in case a flush fails.
 */
const FLUSH_MS = 20;
const UDP_TIMEOUT_S = 1;

export interface FlowOptions {
  /** New flows per second. */
  rates: number[];
  /** Seconds of the measured window. */
  seconds: number;
  /** Flows before the window, so that the daemon (its JIT, its buffers) runs steadily. */
  warmupFlows: number;
  /** Rounds of runs at each rate. */
  repeat: number;
  /** Effective receive buffer in bytes, the same for every daemon. */
  rmem: number;
  /** Consumer names to run (prefixes), comma-separated. */
  only?: string;
  /** Arguments for each specter's Node (e.g. --cpu-prof). */
  nodeArgs: string[];
  /** Where --cpu-prof writes, to print each specter run's hottest functions; null without --profile. */
  profiles: string | null;
}

interface FlowConsumer extends Consumer {
  /** Reliable delivery: the kernel keeps destroy events a full socket cannot take. */
  reliable: boolean;
}

interface FlowRow {
  consumer: string;
  output: string;
  daemon: string;
  reliable: boolean;
  rate: number;
  /** Which of the --repeat rounds (1 for the first). */
  round: number;
  /** Flows the kernel created (the rule's counter) over the whole run. */
  created: number;
  written: number;
  loss: number;
  /** Records written and CPU seconds within the steady window. */
  windowRecords: number;
  windowCpu: number;
  usPerFlow: number;
  /** CPU per record over the whole run, from the first flow to the drain (start-up not counted). */
  usPerFlowRun: number;
  sysShare: number;
  rssMb: number;
  rcvbuf: number;
  sched: string;
  /** Most conntrack entries seen in the namespace during the run. */
  peakEntries: number;
  /** Flows the kernel could not create or evicted early (drop, early_drop, insert_failed) and datagrams the generator saw refused. */
  tableTrouble: number;
  /** IPFIX datagrams the collector's socket dropped. */
  sinkDrops: number;
}

const specterConf = (rmem: number, reliable: boolean, output: string) =>
  `global {\n logfile stderr\n loglevel 3\n rmem ${rmem}\n}\n1 {\n source NFCT\n ctevents destroy\n ctreliable ${reliable ? 'on' : 'off'}\n${output}}\n`;

function specter(output: 'JSON' | 'IPFIX', reliable: boolean, o: FlowOptions, sink: Sink): FlowConsumer {
  const conf =
    output === 'JSON'
      ? ' plugin JSON\n jsonfile DIR/out.json\n'
      : ` plugin IPFIX\n ipfixhost 127.0.0.1\n ipfixport ${SINK_PORT}\n ipfixproto udp\n ipfixdomain 1\n`;
  return {
    name: `specter ${output}${reliable ? ' reliable' : ''}`,
    daemon: 'specter',
    output,
    reliable,
    command(dir) {
      const file = path.join(dir, 'specter.conf');
      fs.writeFileSync(file, specterConf(o.rmem, reliable, conf.replace(/DIR/g, dir)));
      return [process.execPath, ...o.nodeArgs, CLI, '-c', file];
    },
    ready: 'specter started',
    written: (dir) => (output === 'JSON' ? lines(path.join(dir, 'out.json')) : sink.records),
  };
}

/**
 * ulogd2 with the stack that does the same: NFCT with destroy events only and
 * no flow hash (event_mask 4, hash_enable 0: start and end come from the
 * kernel's timestamps, as in specter with `ctevents destroy`), and an IPFIX
 * message as large as specter's (mtu 1500; ulogd2's default is 512).
 */
function ulogd(output: 'JSON' | 'IPFIX', reliable: boolean, o: FlowOptions, sink: Sink): FlowConsumer {
  const stack = output === 'JSON' ? 'ct1:NFCT,ip2str1:IP2STR,json1:JSON' : 'ct1:NFCT,ipfix1:IPFIX';
  const plugins = output === 'JSON' ? ['inpflow_NFCT', 'filter_IP2STR', 'output_JSON'] : ['inpflow_NFCT', 'output_IPFIX'];
  const section =
    output === 'JSON' ? '[json1]\nfile="DIR/out.json"\nsync=0\n' : `[ipfix1]\noid=1\nhost="127.0.0.1"\nport=${SINK_PORT}\nproto="udp"\nmtu=1500\n`;
  return {
    name: `ulogd2 ${output}${reliable ? ' reliable' : ''}`,
    daemon: 'ulogd2',
    output,
    reliable,
    command(dir) {
      const file = path.join(dir, 'ulogd.conf');
      fs.writeFileSync(
        file,
        `[global]\nlogfile="${dir}/ulogd.log"\nloglevel=5\n${plugins.map((p) => `plugin="${ULOGD_LIB}/ulogd_${p}.so"`).join('\n')}\nstack=${stack}\n` +
          `[ct1]\nhash_enable=0\nevent_mask=0x00000004\nreliable=${reliable ? 1 : 0}\n${ulogdBuffer({ effective: o.rmem })}${section.replace(/DIR/g, dir)}`,
      );
      return ['/usr/sbin/ulogd', '-c', file];
    },
    ready: 1500,
    written: (dir) => (output === 'JSON' ? lines(path.join(dir, 'out.json')) : sink.records),
  };
}

function flowConsumers(o: FlowOptions, sink: Sink): FlowConsumer[] {
  const list: FlowConsumer[] = [];
  const haveUlogd = fs.existsSync('/usr/sbin/ulogd') && fs.existsSync(ULOGD_LIB);
  for (const [output, reliable] of [
    ['JSON', false],
    ['JSON', true],
    ['IPFIX', false],
  ] as const) {
    list.push(specter(output, reliable, o, sink));
    if (haveUlogd && fs.existsSync(path.join(ULOGD_LIB, `ulogd_output_${output}.so`))) list.push(ulogd(output, reliable, o, sink));
  }
  const wanted = o.only?.split(',').map((w) => w.trim());
  return wanted ? list.filter((c) => wanted.some((w) => c.name.startsWith(w))) : list;
}

/** The IPFIX collector: a process in the namespace that counts data records; its count comes on stdout. */
interface Sink {
  records: number;
  pid: number;
  stop(): Promise<void>;
}

async function startSink(ns: NetNs): Promise<Sink> {
  const child = ns.spawn(process.execPath, [fileURLToPath(import.meta.url), 'sink', String(SINK_PORT)]);
  const sink: Sink = {
    records: 0,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await new Promise((r) => child.on('exit', r));
      }
    },
  };
  let bound = false;
  let partial = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => {
    const text = partial + d;
    const all = text.split('\n');
    partial = all.pop()!;
    for (const line of all) {
      if (line === 'bound') bound = true;
      else if (line) sink.records = Number(line);
    }
  });
  child.stderr!.pipe(process.stderr);
  await waitFor(() => bound || child.exitCode !== null, 10000, 'the IPFIX collector to bind');
  if (!bound) throw new Error('the IPFIX collector did not start');
  return sink;
}

/** Counts IPFIX data records: templates say each record's length, a data set holds as many as fit. */
function runSink(port: number): void {
  const lengths = new Map<number, number>();
  let records = 0;
  let said = -1;
  const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 * 2 ** 20 });
  sock.on('message', (m) => {
    for (let o = 16; o + 4 <= m.length; ) {
      const id = m.readUInt16BE(o);
      const len = m.readUInt16BE(o + 2);
      if (len < 4 || o + len > m.length) break;
      if (id === 2) {
        for (let r = o + 4; r + 4 <= o + len; ) {
          const tid = m.readUInt16BE(r);
          const fields = m.readUInt16BE(r + 2);
          let size = 0;
          r += 4;
          for (let f = 0; f < fields; f++) {
            const enterprise = m.readUInt16BE(r) & 0x8000;
            size += m.readUInt16BE(r + 2);
            r += enterprise ? 8 : 4;
          }
          lengths.set(tid, size);
        }
      } else if (id >= 256) {
        const size = lengths.get(id);
        if (size) records += Math.floor((len - 4) / size);
      }
      o += len;
    }
  });
  setInterval(() => {
    if (records !== said) console.log((said = records));
  }, 100);
  process.on('SIGTERM', () => process.exit(0));
  sock.bind(port, '127.0.0.1', () => console.log('bound'));
}

/** Conntrack statistics of the namespace a process is in: entries, and the sums of the per-CPU counters. */
function ctStats(pid: number): { entries: number; trouble: number } {
  const rows = fs.readFileSync(`/proc/${pid}/net/stat/nf_conntrack`, 'utf8').trim().split('\n');
  const names = rows[0].trim().split(/\s+/);
  let trouble = 0;
  let entries = 0;
  for (const row of rows.slice(1)) {
    const v = row.trim().split(/\s+/);
    entries = Number.parseInt(v[names.indexOf('entries')], 16);
    for (const n of ['insert_failed', 'drop', 'early_drop']) if (names.includes(n)) trouble += Number.parseInt(v[names.indexOf(n)], 16);
  }
  return { entries, trouble };
}

/** UDP datagrams dropped for a full receive buffer in the namespace of `pid`. */
function udpRcvbufErrors(pid: number): number {
  const udp = fs
    .readFileSync(`/proc/${pid}/net/snmp`, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('Udp:'));
  const names = udp[0].split(/\s+/);
  return Number(udp[1].split(/\s+/)[names.indexOf('RcvbufErrors')]);
}

const counterCreated = (ns: NetNs) => Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 'flowbench', 'created']))?.[1] ?? 0);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class FlowRun {
  /** The first tuple index of the next run: no two runs share a tuple. */
  private nextTuple = 0;

  constructor(
    private readonly ns: NetNs,
    private readonly gen: string,
    private readonly sink: Sink,
    private readonly o: FlowOptions,
  ) {}

  async run(c: FlowConsumer, rate: number, round: number): Promise<FlowRow> {
    const { ns, sink, o } = this;
    const profilesBefore = new Set(o.profiles && fs.existsSync(o.profiles) ? fs.readdirSync(o.profiles) : []);
    const s = await start(ns, c);
    const pid = s.child.pid!;
    try {
      const rcvbuf = netfilterReceiveBuffer(pid, (cmd, args) => ns.exec(cmd, args));
      const sched = policyOf(pid);
      ns.exec('nft', ['reset', 'counter', 'ip', 'flowbench', 'created']);
      const before = c.written(s.dir);
      const trouble0 = ctStats(sink.pid).trouble;
      const drops0 = udpRcvbufErrors(sink.pid);
      const count = o.warmupFlows + rate * o.seconds;
      const first = this.nextTuple;
      this.nextTuple += count;
      const cpu0 = cpuSeconds(pid);
      const t0 = performance.now();
      const gen = ns.spawn(this.gen, [String(PORT), String(count), String(rate), String(first), String(FLUSH_MS)]);
      let genOut = '';
      gen.stdout!.on('data', (d) => {
        genOut += d;
      });
      const genDone = new Promise<void>((r) => gen.on('exit', () => r()));
      let peakEntries = 0;
      const sample = () => {
        peakEntries = Math.max(peakEntries, ctStats(sink.pid).entries);
        if (s.child.exitCode !== null || s.child.signalCode !== null)
          throw new Error(`${c.name} exited: ${s.output().trim().split('\n').slice(-3).join(' / ')}`);
      };
      // The window: from the end of the warm-up flows (the generator paces them) to the end of the flows.
      while (performance.now() - t0 < (o.warmupFlows / rate) * 1000) {
        sample();
        await sleep(250);
      }
      const cpuA = cpuSeconds(pid);
      const wA = c.written(s.dir);
      while (gen.exitCode === null) {
        sample();
        await sleep(100);
      }
      await genDone;
      const cpuB = cpuSeconds(pid);
      const wB = c.written(s.dir);
      // The drain: with ctreliable the kernel resends the events a full socket did not take.
      let last = -1;
      let stableSince = Date.now();
      const deadline = Date.now() + 150_000;
      while (Date.now() < deadline) {
        sample();
        const n = c.written(s.dir);
        if (n !== last) {
          last = n;
          stableSince = Date.now();
        }
        if (ctStats(sink.pid).entries === 0 && Date.now() - stableSince > 1500) break;
        await sleep(250);
      }
      const cpu1 = cpuSeconds(pid);
      const rss = peakRssMb(pid);
      await s.stop();
      const created = counterCreated(ns);
      const written = c.written(s.dir) - before;
      const refused = Number(genOut.trim().split(' ')[2] ?? 0);
      const windowCpu = cpuB.user + cpuB.sys - cpuA.user - cpuA.sys;
      const runCpu = cpu1.user + cpu1.sys - cpu0.user - cpu0.sys;
      if (o.profiles) {
        const fresh = fs.readdirSync(o.profiles).filter((f) => f.endsWith('.cpuprofile') && !profilesBefore.has(f));
        if (fresh[0]) console.log(`${path.join(o.profiles, fresh[0])}\n${topFunctions(path.join(o.profiles, fresh[0]))}`);
      }
      return {
        consumer: c.name,
        output: c.output,
        daemon: c.daemon,
        reliable: c.reliable,
        rate,
        round,
        created,
        written,
        loss: created ? Math.max(0, 1 - written / created) : 0,
        windowRecords: wB - wA,
        windowCpu,
        usPerFlow: wB > wA ? (windowCpu * 1e6) / (wB - wA) : Number.NaN,
        usPerFlowRun: written ? (runCpu * 1e6) / written : Number.NaN,
        sysShare: windowCpu > 0 ? (cpuB.sys - cpuA.sys) / windowCpu : 0,
        rssMb: rss,
        rcvbuf,
        sched,
        peakEntries,
        tableTrouble: ctStats(sink.pid).trouble - trouble0 + refused,
        sinkDrops: udpRcvbufErrors(sink.pid) - drops0,
      };
    } finally {
      await s.stop();
      fs.rmSync(s.dir, { recursive: true, force: true });
    }
  }
}

const mib = (bytes: number) => (Number.isFinite(bytes) ? `${+(bytes / 2 ** 20).toFixed(1)} MiB` : '?');
const n = (x: number) => Math.round(x).toLocaleString('en');

function table(rows: FlowRow[]): string {
  return [
    '| consumer | new flows/s | round | receive buffer | scheduling | created | written | loss | records in window | CPU s in window | of it in kernel | CPU µs/flow | µs/flow whole run | peak RSS MB | peak table entries |',
    '|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.consumer} | ${n(r.rate)} | ${r.round} | ${mib(r.rcvbuf)} | ${r.sched} | ${n(r.created)} | ${n(r.written)} | ${(r.loss * 100).toFixed(2)} % | ${n(r.windowRecords)} | ${r.windowCpu.toFixed(2)} | ${(r.sysShare * 100).toFixed(0)} % | ${r.usPerFlow.toFixed(2)} | ${r.usPerFlowRun.toFixed(2)} | ${r.rssMb.toFixed(0)} | ${n(r.peakEntries)} |`,
    ),
  ].join('\n');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function ratios(rows: FlowRow[]): string {
  const out: string[] = [];
  const byStack = new Map<string, number[]>();
  for (const r of rows.filter((x) => x.daemon === 'specter')) {
    const u = rows.find((x) => x.daemon === 'ulogd2' && x.output === r.output && x.reliable === r.reliable && x.rate === r.rate && x.round === r.round);
    if (!u || !(u.usPerFlow > 0)) continue;
    const ratio = r.usPerFlow / u.usPerFlow;
    const stack = `${r.consumer.slice('specter '.length)} at ${n(r.rate)} flows/s`;
    byStack.set(stack, [...(byStack.get(stack) ?? []), ratio]);
    out.push(
      `- ${stack}${rows.some((x) => x.round > 1) ? ` (round ${r.round})` : ''}: specter uses ${ratio.toFixed(2)}× the CPU per flow of ulogd2 (${r.usPerFlow.toFixed(2)} vs ${u.usPerFlow.toFixed(2)} µs); loss ${(r.loss * 100).toFixed(2)} % vs ${(u.loss * 100).toFixed(2)} %`,
    );
  }
  const repeated = [...byStack].filter(([, xs]) => xs.length > 1);
  if (repeated.length)
    out.push(
      '',
      'Over the rounds:',
      '',
      ...repeated.map(
        ([stack, xs]) =>
          `- ${stack}: median ${median(xs).toFixed(2)}×, from ${Math.min(...xs).toFixed(2)}× to ${Math.max(...xs).toFixed(2)}× over ${xs.length} rounds`,
      ),
    );
  return out.join('\n');
}

/** Anything in the runs that makes a figure doubtful: a table that filled, a collector that dropped. */
function caveats(rows: FlowRow[]): string {
  const out: string[] = [];
  for (const r of rows) {
    if (r.tableTrouble > 0) out.push(`- ${r.consumer} at ${n(r.rate)}/s: ${n(r.tableTrouble)} flows dropped or evicted early by a full conntrack table`);
    if (r.sinkDrops > 0) out.push(`- ${r.consumer} at ${n(r.rate)}/s: the IPFIX collector's socket dropped ${n(r.sinkDrops)} datagrams`);
  }
  return out.length ? `\n\n${out.join('\n')}` : '\n\nNo flow was refused or evicted early by the conntrack table, and the IPFIX collector dropped no datagram.';
}

export async function flowsBench(ns: NetNs, work: string, o: FlowOptions, log: (line: string) => void): Promise<string> {
  const gen = path.join(work, 'flowflood');
  execFileSync('cc', ['-O2', '-o', gen, path.join(ROOT, 'bench', 'flowflood.c')]);
  // The collector's own datagrams are not tracked: they would be flows too.
  ns.nft(
    `table ip flowbench {\n  counter created { }\n` +
      `  chain raw_out {\n    type filter hook output priority raw; policy accept;\n    udp dport ${SINK_PORT} notrack\n  }\n` +
      `  chain nat_out {\n    type nat hook output priority -100; policy accept;\n    udp dport ${PORT} dnat to :${PORT + 1}\n  }\n` +
      `  chain out {\n    type filter hook output priority 0; policy accept;\n    udp dport ${PORT + 1} ct state new counter name created\n  }\n` +
      `  chain in {\n    type filter hook input priority 0; policy accept;\n    udp dport ${PORT + 1} drop\n  }\n}\n`,
  );
  for (const s of [`nf_conntrack_udp_timeout=${UDP_TIMEOUT_S}`, 'nf_conntrack_acct=1', 'nf_conntrack_timestamp=1'])
    ns.exec('sysctl', ['-qw', `net.netfilter.${s}`]);
  const max = fs.readFileSync('/proc/sys/net/netfilter/nf_conntrack_max', 'utf8').trim();
  const sink = await startSink(ns);
  const runner = new FlowRun(ns, gen, sink, o);
  const rows: FlowRow[] = [];
  try {
    const list = flowConsumers(o, sink);
    for (const rate of o.rates) {
      for (let round = 1; round <= o.repeat; round++)
        for (const c of list) {
          log(`${c.name}, ${n(rate)} new flows/s${o.repeat > 1 ? `, round ${round}` : ''}: ${n(o.warmupFlows)} flows, then ${o.seconds} s measured ...`);
          try {
            const r = await runner.run(c, rate, round);
            rows.push(r);
            log(
              `  created ${n(r.created)}, written ${n(r.written)} (${(r.loss * 100).toFixed(2)} % lost), ${r.usPerFlow.toFixed(2)} µs/flow, receive buffer ${mib(r.rcvbuf)}, peak table ${n(r.peakEntries)}`,
            );
          } catch (err) {
            log(`  failed: ${(err as Error).message}`);
          }
        }
    }
  } finally {
    await sink.stop();
    ns.exec('nft', ['delete', 'table', 'ip', 'flowbench']);
  }
  return (
    `## Connection logging (NFCT), equal receive buffers (${mib(o.rmem)} each), normal scheduling\n\n` +
    `${os.cpus().length} cores; UDP flows with a new source address and port each, DNATed to another port, ${UDP_TIMEOUT_S} s UDP timeout, ` +
    `ended by a flush of the table every ${FLUSH_MS} ms; one record per destroy event; JSON files in ${outputBase.dir}. nf_conntrack_max ${max}. ` +
    `CPU per flow over the window from the end of the first ${n(o.warmupFlows)} flows to the last (${o.seconds} s).\n\n` +
    `${table(rows)}\n\nRatios (specter's CPU per flow / ulogd2's, same run and rate):\n\n${ratios(rows)}${caveats(rows)}`
  );
}

// Run as a script: the IPFIX collector.
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, port] = process.argv.slice(2);
  if (mode !== 'sink') {
    console.error('usage: flows.js sink PORT');
    process.exit(2);
  }
  runSink(Number(port));
}
