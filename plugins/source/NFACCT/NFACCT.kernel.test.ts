/**
 * source NFACCT against the kernel, in a namespace of its own: accounting
 * objects made with `nfacct add`, counted by iptables `-m nfacct` rules
 * while pings and UDP datagrams of known sizes go out, read every second
 * into JSON. Without zerocounter the last record of each object equals what
 * `nfacct list` shows; with it, the records add up to exactly the traffic
 * (the last poll at exit included) and `nfacct list` is left at zero.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

type Rec = { [k: string]: unknown };

const readJson = (file: string): Rec[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Rec)
    : [];

/** `nfacct list` as name → [packets, bytes]. */
function nfacctList(ns: NetNs): Map<string, [number, number]> {
  const out = new Map<string, [number, number]>();
  for (const m of ns.exec('nfacct', ['list']).matchAll(/\{ pkts = (\d+), bytes = (\d+) \} = ([^;]+);/g)) out.set(m[3], [Number(m[1]), Number(m[2])]);
  return out;
}

describe('source NFACCT', { timeout: 120_000 }, () => {
  let ns: NetNs;
  let dir: string;

  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-nfacct');
    for (const name of ['icmp-out', 'udp-out', 'idle']) ns.exec('nfacct', ['add', name]);
    ns.exec('iptables', ['-A', 'OUTPUT', '-o', 'lo', '-p', 'icmp', '-m', 'nfacct', '--nfacct-name', 'icmp-out']);
    ns.exec('iptables', ['-A', 'OUTPUT', '-o', 'lo', '-p', 'udp', '-m', 'nfacct', '--nfacct-name', 'udp-out']);
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Pings (84-byte echo request and reply, both leaving through lo) and UDP datagrams of `size` payload bytes. */
  function traffic(pings: number, udp: number, size: number): { icmp: [number, number]; udp: [number, number] } {
    ns.exec('ping', ['-c', String(pings), '-i', '0.2', '-q', '127.0.0.1']);
    // To its own bound socket: a closed port would answer with ICMP errors, which the icmp object would count.
    ns.exec('python3', [
      '-c',
      `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', 0))\nfor i in range(${udp}): s.sendto(b'x' * ${size}, s.getsockname())\n`,
    ]);
    return { icmp: [2 * pings, 2 * pings * 84], udp: [udp, udp * (20 + 8 + size)] };
  }

  let runs = 0;

  /** Runs specter reading the objects every second into JSON (or into `output`, block lines of its own). */
  async function run(
    zerocounter: boolean,
    body: (json: string) => Promise<void>,
    output?: string,
    args: string[] = [],
  ): Promise<{ records: Rec[]; daemon: Daemon }> {
    const json = path.join(dir, `nfacct-${++runs}.json`);
    const daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {
 logfile stderr
 loglevel 3
}
1 {
 source NFACCT
 pollinterval 1
 zerocounter ${zerocounter ? 'on' : 'off'}
${output ?? ` plugin JSON\n jsonfile ${json}\n jsonsync`}
}
`,
      ),
      args,
    );
    try {
      await daemon.started();
      await body(json);
    } finally {
      assert.equal(await daemon.stop(), 0, daemon.stderr);
    }
    return { records: readJson(json), daemon };
  }

  it('without zerocounter, the last reading of each object is what nfacct list shows', async () => {
    const t0 = Math.floor(Date.now() / 1000);
    let listed = new Map<string, [number, number]>();
    const { records } = await run(false, async (json) => {
      traffic(5, 7, 100);
      listed = nfacctList(ns);
      // A reading made after the traffic: the one after the next whole second.
      const polls = new Set(readJson(json).map((r) => r['oob.time.sec'])).size;
      await waitFor(() => new Set(readJson(json).map((r) => r['oob.time.sec'])).size >= polls + 2, 10_000, 'two more readings');
    });
    assert.deepEqual([...listed.keys()].sort(), ['icmp-out', 'idle', 'udp-out']);
    assert.deepEqual(listed.get('icmp-out'), [10, 840]);
    assert.deepEqual(listed.get('udp-out'), [7, 7 * 128]);
    assert.deepEqual(listed.get('idle'), [0, 0]);
    for (const [name, [pkts, bytes]] of listed) {
      const last = records.filter((r) => r['sum.name'] === name).at(-1);
      assert.ok(last, `a record for ${name}`);
      assert.deepEqual([last['sum.pkts'], last['sum.bytes']], [pkts, bytes], name);
    }
    // One record per object per reading, all of a reading with its time, within the test.
    const byTime = new Map<string, string[]>();
    for (const r of records) {
      const at = `${r['oob.time.sec']}.${String(r['oob.time.usec']).padStart(6, '0')}`;
      byTime.set(at, [...(byTime.get(at) ?? []), r['sum.name'] as string]);
    }
    assert.ok(byTime.size >= 3, `${byTime.size} readings`);
    for (const [at, names] of byTime) {
      assert.deepEqual(names.sort(), ['icmp-out', 'idle', 'udp-out'], `reading at ${at}`);
      assert.ok(Number(at) >= t0 && Number(at) <= Date.now() / 1000, `reading at ${at}`);
    }
    assert.ok(records.every((r) => typeof r['oob.time.usec'] === 'number' && (r['oob.time.usec'] as number) < 1e6));
    // Nothing was zeroed: the kernel still has it all.
    assert.deepEqual(nfacctList(ns).get('udp-out'), [7, 7 * 128]);
  });

  it('with zerocounter, the readings add up to exactly the traffic, and the kernel is left at zero', async () => {
    // Start from zero: the previous test's counts stay in the kernel.
    ns.exec('nfacct', ['list', 'reset']);
    let sent = { icmp: [0, 0], udp: [0, 0] };
    const { records, daemon } = await run(true, async () => {
      // Traffic spread over several readings: each count must land in exactly one.
      const a = traffic(8, 20, 50);
      const b = traffic(6, 11, 300);
      sent = { icmp: [a.icmp[0] + b.icmp[0], a.icmp[1] + b.icmp[1]], udp: [a.udp[0] + b.udp[0], a.udp[1] + b.udp[1]] };
    });
    const sum = (name: string) =>
      records.filter((r) => r['sum.name'] === name).reduce(([p, b], r) => [p + (r['sum.pkts'] as number), b + (r['sum.bytes'] as number)], [0, 0]);
    assert.deepEqual(sum('icmp-out'), sent.icmp);
    assert.deepEqual(sum('udp-out'), sent.udp);
    assert.deepEqual(sum('idle'), [0, 0]);
    assert.ok(records.filter((r) => r['sum.name'] === 'icmp-out' && (r['sum.pkts'] as number) > 0).length >= 2, 'the pings span several readings');
    // The last reading at exit took the rest: nothing is left counted in the kernel.
    for (const [name, v] of nfacctList(ns)) assert.deepEqual(v, [0, 0], name);
    const c = daemon.counters('NFACCT');
    assert.equal(c?.sent, records.length, JSON.stringify(c));
    assert.equal(c?.errors, 0);
  });

  it('with zerocounter, leaves out readings while an output is busy and loses nothing: the next reading has it', async () => {
    ns.exec('nfacct', ['list', 'reset']);
    const out = path.join(dir, 'busy.json');
    // An output that is busy for its first 3 seconds and writes each record as a JSON line.
    const module = path.join(dir, 'busyout.mjs');
    fs.writeFileSync(
      module,
      `import fs from 'node:fs';
export default {
  kind: 'output', name: 'BUSYOUT', description: 'busy at first',
  options: { busyfile: { type: 'string', required: true, description: 'where' } },
  create(ctx) {
    const keys = ['sum.name', 'sum.pkts', 'sum.bytes'].map((n) => ctx.key(n));
    const until = Date.now() + 3000;
    let lines = '';
    let n = 0;
    return {
      write(rec) { lines += JSON.stringify(Object.fromEntries(keys.map((k) => [k.name, k.type === 'u64' ? Number(rec.get(k)) : rec.get(k)]))) + '\\n'; n++; },
      endBatch() { fs.appendFileSync(ctx.options.busyfile, lines); lines = ''; ctx.counters.sent += n; ctx.commit(n); n = 0; },
      busy: () => Date.now() < until,
      async flush() {},
      async close() {},
    };
  },
};
`,
    );
    let sent: { icmp: [number, number]; udp: [number, number] } = { icmp: [0, 0], udp: [0, 0] };
    const { daemon } = await run(
      true,
      async () => {
        sent = traffic(5, 9, 70);
        // Past the busy time, and a reading after it.
        await new Promise((r) => setTimeout(r, 4500));
      },
      ` plugin ${module}\n busyfile ${out}`,
    );
    const records = readJson(out);
    const sum = (name: string) =>
      records.filter((r) => r['sum.name'] === name).reduce(([p, b], r) => [p + (r['sum.pkts'] as number), b + (r['sum.bytes'] as number)], [0, 0]);
    assert.deepEqual(sum('icmp-out'), sent.icmp);
    assert.deepEqual(sum('udp-out'), sent.udp);
    const c = daemon.counters('NFACCT');
    assert.ok((c?.busy ?? 0) >= 2, `readings left out while busy: ${JSON.stringify(c)}`);
  });

  it('says once, naming CAP_NET_ADMIN, when readings fail after -u dropped root', async () => {
    fs.chmodSync(dir, 0o777);
    const { records, daemon } = await run(
      true,
      async () => {
        await new Promise((r) => setTimeout(r, 3500));
      },
      undefined,
      ['-u', 'nobody'],
    );
    assert.equal(records.length, 0);
    const said = daemon.stderr.split('\n').filter((l) => l.includes('listing the accounting objects failed'));
    assert.equal(said.length, 1, daemon.stderr);
    assert.match(said[0], /EPERM.*CAP_NET_ADMIN/);
    assert.ok((daemon.counters('NFACCT')?.errors ?? 0) >= 3, 'every failed reading is an error');
  });
});
