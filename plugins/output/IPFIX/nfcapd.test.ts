/**
 * IPFIX into a real collector: nfdump's nfcapd receives the export over UDP
 * on a free port, and `nfdump -r` reads back every flow with its addresses,
 * ports, translated addresses and ports, packets and bytes both ways, and
 * start and end to the millisecond.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../../test/netns.js';
import { exportFlows, makeFlows } from './export-run.js';
import type { Flow } from './flow-input.js';

async function freeUdpPort(): Promise<number> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

interface NfdumpFlow {
  first: string;
  last: string;
  proto: number;
  src4_addr?: string;
  dst4_addr?: string;
  src6_addr?: string;
  dst6_addr?: string;
  src_port?: number;
  dst_port?: number;
  icmp_type?: number;
  icmp_code?: number;
  in_packets: number;
  in_bytes: number;
  out_packets: number;
  out_bytes: number;
  src4_xlt_ip?: string;
  dst4_xlt_ip?: string;
  src_xlt_port?: string;
  dst_xlt_port?: string;
}

const iso = (ms: number) => new Date(ms).toISOString().replace('Z', '');

describe('IPFIX to nfcapd', { timeout: 60000 }, () => {
  let dir: string;
  let nfcapd: ChildProcess;
  let port: number;
  let log = '';

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ipfix-nfcapd-'));
    port = await freeUdpPort();
    nfcapd = spawn('nfcapd', ['-w', dir, '-p', String(port), '-b', '127.0.0.1', '-t', '3600'], { stdio: ['ignore', 'pipe', 'pipe'] });
    nfcapd.stdout!.on('data', (d) => {
      log += d;
    });
    nfcapd.stderr!.on('data', (d) => {
      log += d;
    });
    await waitFor(() => log.includes('Startup'), 10000, 'nfcapd to start');
  });

  after(() => {
    if (nfcapd.exitCode === null) nfcapd.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('nfdump reads back every flow, IPv4 and IPv6, with both directions and the NAT', async () => {
    const flows = makeFlows(600);
    const res = await exportFlows(flows, { ipfixhost: '127.0.0.1', ipfixport: port, ipfixdomain: 42 });
    assert.equal(res.counters.sent, flows.length, JSON.stringify(res.counters));
    assert.equal(res.counters.dropped, 0);
    assert.equal(res.committed, flows.length);

    // nfcapd writes its file at exit: let it read the datagrams first (it shows no progress before).
    await new Promise((r) => setTimeout(r, 500));
    nfcapd.kill('SIGTERM');
    await new Promise((r) => nfcapd.once('exit', r));
    // One summary line per file: nfcapd starts a new file at each interval boundary of the clock (-t).
    const summaries = [...log.matchAll(/Flows: (\d+), .*Sequence Errors: (\d+), Bad Packets: (\d+)/g)];
    assert.ok(summaries.length >= 1, log);
    assert.equal(
      summaries.reduce((n, m) => n + Number(m[1]), 0),
      flows.length,
      log,
    );
    for (const m of summaries) assert.deepEqual([m[2], m[3]], ['0', '0'], log);

    const files = fs.readdirSync(dir).filter((f) => /^nfcapd\.\d+$/.test(f));
    assert.ok(files.length >= 1, `capture files in ${fs.readdirSync(dir).join(', ')}`);
    const got: NfdumpFlow[] = files.flatMap(
      (f) =>
        JSON.parse(
          execFileSync('nfdump', ['-r', path.join(dir, f), '-o', 'json', '-N'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }),
        ) as NfdumpFlow[],
    );
    assert.equal(got.length, flows.length);

    const key = (src: string | undefined, sport: number | undefined, dst: string | undefined, proto: number) => `${src}|${sport ?? 0}|${dst}|${proto}`;
    const byKey = new Map<string, NfdumpFlow>();
    for (const g of got) {
      const icmp = g.proto === 1 || g.proto === 58;
      byKey.set(key(g.src4_addr ?? g.src6_addr, icmp ? 0 : g.src_port, g.dst4_addr ?? g.dst6_addr, g.proto), g);
    }
    const check = (f: Flow) => {
      const g = byKey.get(key(f.saddr, f.sport, f.daddr, f.protocol));
      assert.ok(g, `flow ${f.saddr}:${f.sport} > ${f.daddr}:${f.dport} proto ${f.protocol} read back`);
      const what = `flow ${f.id}`;
      if (f.dport !== undefined) assert.equal(g.dst_port, f.dport, what);
      else {
        assert.equal(g.icmp_type, f.icmpType, what);
        assert.equal(g.icmp_code, f.icmpCode, what);
      }
      assert.deepEqual([g.in_packets, g.in_bytes, g.out_packets, g.out_bytes], [f.pkts, f.bytes, f.rpkts, f.rbytes], what);
      assert.equal(g.first, iso(f.start), what);
      assert.equal(g.last, iso(f.end), what);
      // The source after NAT is the reply's destination; the destination after NAT the reply's source.
      if (f.family === 4) {
        assert.equal(g.src4_xlt_ip, f.rdaddr, what);
        assert.equal(g.dst4_xlt_ip, f.rsaddr, what);
      }
      assert.equal(Number(g.src_xlt_port), f.rdport ?? 0, what);
      assert.equal(Number(g.dst_xlt_port), f.rsport ?? 0, what);
    };
    flows.forEach(check);
    assert.ok(flows.some((f) => f.family === 6) && flows.some((f) => f.rdaddr !== f.saddr) && flows.some((f) => f.rbytes > 0xffffffff));
  });
});
