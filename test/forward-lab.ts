/**
 * Test helper for forwarding (NATS output → JetStream → source NATS): a
 * network namespace of the test's own holding a nats-server, sensors (real
 * specter processes logging kernel traffic from nft rules, one rule with a
 * counter and a group per sensor) and collectors. Everything runs in the
 * namespace, so the server is reachable on its loopback; PostgreSQL is
 * reached through its Unix socket, which no namespace hides.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Daemon, tempDir, writeConfig } from './daemon.js';
import { NatsServer } from './nats-server.js';
import { NetNs, waitFor } from './netns.js';

export class ForwardLab {
  readonly ns: NetNs;
  readonly dir = tempDir('specter-forward-');
  readonly nats: NatsServer;
  private readonly daemons: Daemon[] = [];

  constructor(
    prefix: string,
    readonly groups: readonly number[],
  ) {
    this.ns = new NetNs(prefix);
    this.nats = new NatsServer(this.ns, path.join(this.dir, 'jetstream'));
    // Group g logs pings to 127.0.0.g, counted by counter c<g>.
    const counters = groups.map((g) => ` counter c${g} { }\n`).join('');
    const rules = groups.map((g) => `  ip daddr 127.0.0.${g} icmp type echo-request counter name c${g} log group ${g} prefix "s${g}: "\n`).join('');
    this.ns.nft(`table ip t {\n${counters} chain input {\n  type filter hook input priority 0; policy accept;\n${rules} }\n}\n`);
  }

  /** Packets rule g counted. */
  counter(g: number): number {
    return Number(/packets (\d+)/.exec(this.ns.exec('nft', ['list', 'counter', 'ip', 't', `c${g}`]))![1]);
  }

  /** Pings 127.0.0.g `count` times, `interval` seconds apart, in the background; resolves when done. */
  ping(g: number, count: number, interval = 0.005): { proc: ChildProcess; done: Promise<void> } {
    const proc = this.ns.spawn('ping', ['-q', '-c', String(count), '-i', String(interval), '-W', '1', `127.0.0.${g}`]);
    const done = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
    return { proc, done };
  }

  /** A sensor: group g with BASE, the NATS output and whatever `extra` adds to the block. */
  async sensor(name: string, g: number, extra = '', global = ''): Promise<Daemon> {
    const conf = `global {\n loglevel 3\n sensor ${name}\n${global}}\n${g} {\n plugin BASE\n plugin NATS\n natsurl ${this.nats.url}\n spooldir ${this.spoolDir(name)}\n${extra}}\n`;
    return this.start(writeConfig(this.dir, conf, `${name}.conf`));
  }

  spoolDir(sensor: string): string {
    return path.join(this.dir, `spool-${sensor}`);
  }

  /** A collector: a group fed by `source NATS` with the outputs in `outputs`. */
  async collector(name: string, outputs: string, durable = 'central'): Promise<Daemon> {
    const conf = `global {\n loglevel 3\n sensor ${name}\n}\n100 {\n source NATS\n natsurl ${this.nats.url}\n natsdurable ${durable}\n${outputs}}\n`;
    return this.start(writeConfig(this.dir, conf, `${name}.conf`));
  }

  async start(configFile: string): Promise<Daemon> {
    const d = new Daemon(this.ns, configFile);
    this.daemons.push(d);
    await d.started(20000);
    return d;
  }

  /** Records a JSON output wrote (one object per line), with their sensor and sequence. */
  jsonRecords(file: string): Array<{ [k: string]: unknown }> {
    if (!fs.existsSync(file)) return [];
    return fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
  }

  lines(file: string): string[] {
    return fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : [];
  }

  async until(check: () => boolean, ms: number, what: string): Promise<void> {
    await waitFor(check, ms, what);
  }

  async close(): Promise<void> {
    for (const d of this.daemons) if (d.proc.exitCode === null && d.proc.signalCode === null) await d.stop(15000);
    await this.nats.stop();
    this.ns.delete();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** "sensor:seq" of each record, and the ones seen more than once. */
export function identities(records: Array<{ [k: string]: unknown }>): { all: Set<string>; twice: string[] } {
  const all = new Set<string>();
  const twice: string[] = [];
  for (const r of records) {
    const id = `${r['sensor.name']}:${r['sensor.seq']}`;
    if (all.has(id)) twice.push(id);
    all.add(id);
  }
  return { all, twice };
}
