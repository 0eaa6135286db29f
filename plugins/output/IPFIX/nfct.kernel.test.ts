/**
 * Conntrack to a flow collector, end to end: NATed TCP, UDP and ICMP flows
 * over IPv4 and IPv6 through a router namespace, source NFCT, IPFIX to
 * nfdump's nfcapd in the router (on the default port 4739), and `nfdump -r`
 * showing every flow once with the same addresses, ports, translation,
 * packets, bytes and times that the group's JSON output wrote, and what the
 * client sent.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { waitFor } from '../../../test/netns.js';
import { NatLab, type SentFlow } from '../../source/NFCT/nat-lab.js';

type Rec = { [k: string]: unknown };

const KEYS = [
  'orig.ip.saddr.str',
  'orig.ip.daddr.str',
  'orig.ip.protocol',
  'orig.l4.sport',
  'orig.l4.dport',
  'orig.raw.pktlen',
  'orig.raw.pktcount',
  'reply.ip.saddr.str',
  'reply.ip.daddr.str',
  'reply.l4.sport',
  'reply.l4.dport',
  'reply.raw.pktlen',
  'reply.raw.pktcount',
  'icmp.type',
  'icmp.code',
  'flow.start.sec',
  'flow.start.usec',
  'flow.end.sec',
  'flow.end.usec',
  'oob.family',
];

const readJson = (file: string): Rec[] =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Rec)
    : [];

const iso = (sec: unknown, usec: unknown) => new Date((sec as number) * 1000 + Math.floor((usec as number) / 1000)).toISOString().replace('Z', '');

/** One line per flow, the same from a JSON record and from an nfdump flow, for comparing the sets. */
function fromRecord(r: Rec): string {
  const icmp = r['orig.l4.sport'] === undefined;
  const v4 = r['oob.family'] === 2;
  return [
    r['orig.ip.saddr.str'],
    icmp ? '-' : r['orig.l4.sport'],
    r['orig.ip.daddr.str'],
    icmp ? `icmp ${r['icmp.type']}/${r['icmp.code']}` : r['orig.l4.dport'],
    r['orig.ip.protocol'],
    // After NAT: the source is the reply's destination, the destination the reply's source.
    v4 ? r['reply.ip.daddr.str'] : '-',
    v4 ? r['reply.ip.saddr.str'] : '-',
    r['reply.l4.dport'] ?? 0,
    r['reply.l4.sport'] ?? 0,
    r['orig.raw.pktcount'],
    r['orig.raw.pktlen'],
    r['reply.raw.pktcount'],
    r['reply.raw.pktlen'],
    iso(r['flow.start.sec'], r['flow.start.usec']),
    iso(r['flow.end.sec'], r['flow.end.usec']),
  ].join(' ');
}

function fromNfdump(g: Rec): string {
  const icmp = g.proto === 1 || g.proto === 58;
  const v4 = g.src4_addr !== undefined;
  return [
    g.src4_addr ?? g.src6_addr,
    icmp ? '-' : g.src_port,
    g.dst4_addr ?? g.dst6_addr,
    icmp ? `icmp ${g.icmp_type}/${g.icmp_code}` : g.dst_port,
    g.proto,
    v4 ? g.src4_xlt_ip : '-',
    v4 ? g.dst4_xlt_ip : '-',
    Number(g.src_xlt_port),
    Number(g.dst_xlt_port),
    g.in_packets,
    g.in_bytes,
    g.out_packets,
    g.out_bytes,
    g.first,
    g.last,
  ].join(' ');
}

describe('NFCT to IPFIX to nfcapd', { timeout: 180_000 }, () => {
  let lab: NatLab;
  let dir: string;
  let daemon: Daemon | undefined;
  let nfcapd: ChildProcess | undefined;
  let sent: SentFlow[] = [];
  let records: Rec[] = [];
  let flows: Rec[] = [];
  let nfcapdLog = '';

  before(async () => {
    dir = tempDir();
    lab = new NatLab();
    await lab.startServer();
    const capture = path.join(dir, 'nfcapd');
    fs.mkdirSync(capture);
    nfcapd = lab.router.spawn('nfcapd', ['-w', capture, '-b', '127.0.0.1', '-p', '4739', '-t', '3600']);
    nfcapd.stdout!.on('data', (d) => {
      nfcapdLog += d;
    });
    nfcapd.stderr!.on('data', (d) => {
      nfcapdLog += d;
    });
    await waitFor(() => nfcapdLog.includes('Startup'), 10_000, 'nfcapd to start');

    const json = path.join(dir, 'flows.json');
    daemon = new Daemon(
      lab.router,
      writeConfig(
        dir,
        `global {
 logfile stderr
 loglevel 3
}
10 {
 source NFCT
 # The export to nfcapd is a flow through this conntrack table too: only the client's flows.
 ctsrcfilter "10.10.0.0/24, fd10::/64"
 plugin IPFIX
 ipfixhost 127.0.0.1
 ipfixdomain 10
 plugin JSON
 jsonfile ${json}
 jsonsync
 jsonfields ${KEYS.join(',')}
}
`,
      ),
    );
    await daemon.started();
    sent = lab.traffic({ udp4: 60, tcp4: 30, icmp4: 20, udp6: 40, tcp6: 20, icmp6: 15 });
    lab.router.exec('conntrack', ['-D', '-f', 'ipv4', '-p', 'tcp']);
    lab.router.exec('conntrack', ['-D', '-f', 'ipv6', '-p', 'tcp']);
    await waitFor(() => lab.allEnded() && readJson(json).length >= sent.length, 60_000, `${sent.length} flow records (have ${readJson(json).length})`);
    assert.equal(await daemon.stop(), 0, daemon.stderr);
    records = readJson(json);
    // nfcapd writes its file at exit; it reads what is in its socket first.
    await new Promise((r) => setTimeout(r, 500));
    nfcapd.kill('SIGTERM');
    await new Promise((r) => nfcapd!.once('exit', r));
    // nfcapd starts a new file at each interval boundary of the clock (-t), so a run across one leaves two.
    const files = fs.readdirSync(capture).filter((f) => /^nfcapd\.\d+$/.test(f));
    assert.ok(files.length >= 1, nfcapdLog);
    flows = files.flatMap(
      (f) =>
        JSON.parse(
          execFileSync('nfdump', ['-r', path.join(capture, f), '-o', 'json', '-N'], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } }),
        ) as Rec[],
    );
  });

  after(async () => {
    if (daemon) await daemon.stop();
    if (nfcapd && nfcapd.exitCode === null) nfcapd.kill('SIGKILL');
    lab?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('nfcapd gets every flow once, with no sequence error', () => {
    assert.equal(records.length, sent.length);
    assert.equal(flows.length, sent.length);
    // One summary line per file nfcapd wrote.
    const summaries = [...nfcapdLog.matchAll(/Flows: (\d+), .*Sequence Errors: (\d+), Bad Packets: (\d+)/g)];
    assert.ok(summaries.length >= 1, nfcapdLog);
    assert.equal(
      summaries.reduce((n, m) => n + Number(m[1]), 0),
      sent.length,
      nfcapdLog,
    );
    for (const m of summaries) assert.deepEqual([m[2], m[3]], ['0', '0'], nfcapdLog);
    const counters = daemon!.counters('IPFIX');
    assert.deepEqual([counters?.sent, counters?.dropped], [sent.length, 0], JSON.stringify(counters));
  });

  it('nfdump shows each flow as the conntrack record had it: both tuples, the NAT, packets, bytes, start and end', () => {
    assert.deepEqual(flows.map(fromNfdump).sort(), records.map(fromRecord).sort());
  });

  it('and as the client sent it: addresses, ports and UDP and ICMP bytes', () => {
    for (const f of sent) {
      const [client, router, inside, server] =
        f.family === 4 ? ['10.10.0.2', '10.10.0.1', '10.20.0.1', '10.20.0.2'] : ['fd10::2', 'fd10::1', 'fd20::1', 'fd20::2'];
      const proto = f.proto === 'udp' ? 17 : f.proto === 'tcp' ? 6 : f.family === 4 ? 1 : 58;
      const what = `${f.proto}${f.family} ${f.port}`;
      const g = flows.filter((x) => x.proto === proto && (x.src4_addr ?? x.src6_addr) === client && (f.proto === 'icmp' || x.src_port === f.port));
      if (f.proto === 'icmp') {
        // ICMP flows are told apart by their echo id, which IPFIX does not carry: one with these bytes is enough.
        const bytes = (f.family === 4 ? 20 : 40) + 8 + f.payload;
        assert.ok(
          g.some((x) => x.in_bytes === bytes && (x.dst4_addr ?? x.dst6_addr) === server),
          what,
        );
        continue;
      }
      assert.equal(g.length, 1, what);
      assert.equal(g[0].dst4_addr ?? g[0].dst6_addr, router, what);
      assert.equal(g[0].dst_port, 8000, what);
      assert.equal(Number(g[0].dst_xlt_port), 9000, `${what}: destination NAT`);
      if (f.family === 4) assert.deepEqual([g[0].src4_xlt_ip, g[0].dst4_xlt_ip], [inside, server], `${what}: both NATs`);
      if (f.proto === 'udp') {
        const bytes = (f.family === 4 ? 20 : 40) + 8 + f.payload;
        assert.deepEqual([g[0].in_packets, g[0].in_bytes, g[0].out_packets, g[0].out_bytes], [1, bytes, 1, bytes], what);
      }
    }
  });
});
