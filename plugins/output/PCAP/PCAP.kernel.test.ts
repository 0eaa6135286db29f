/**
 * PCAP through the kernel: the same packets go to specter (group 1) and to
 * tcpdump's own NFLOG capture (group 2); both files must hold the same packet
 * bytes, and tcpdump and tshark must read ours. Rotation keeps every packet.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

/** Packets of a pcap file: [linktype, [{caplen, len, data}]]. */
function readPcap(file: string) {
  const b = fs.readFileSync(file);
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4);
  const linktype = b.readUInt32LE(20);
  const out: Array<{ sec: number; caplen: number; len: number; data: Buffer }> = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const caplen = b.readUInt32LE(o + 8);
    out.push({ sec: b.readUInt32LE(o), caplen, len: b.readUInt32LE(o + 12), data: b.subarray(o + 16, o + 16 + caplen) });
    o += 16 + caplen;
  }
  return { linktype, packets: out };
}

/** The payload TLV of an NFLOG pcap record (as tcpdump -i nflog writes it). */
function nflogPayload(rec: Buffer): Buffer {
  for (let o = 4; o + 4 <= rec.length; ) {
    const len = rec.readUInt16LE(o);
    const type = rec.readUInt16LE(o + 2);
    if (type === 9) return rec.subarray(o + 4, o + len);
    o += (len + 3) & ~3;
  }
  throw new Error('no payload TLV');
}

describe('PCAP output through the kernel', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-pcap');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    meta l4proto { icmp, icmpv6, udp } log group 1 prefix "cap: "
    meta l4proto { icmp, icmpv6, udp } log group 2 prefix "cap: "
  }
}`);
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  for (const linktype of ['raw', 'nflog'] as const) {
    it(`writes the packets tcpdump captures, byte for byte (${linktype})`, async () => {
      const ours = path.join(dir, `ours-${linktype}.pcap`);
      const theirs = path.join(dir, `theirs-${linktype}.pcap`);
      const tcpdump = ns.spawn('tcpdump', ['-U', '-q', '-i', 'nflog:2', '-w', theirs]);
      const daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin PCAP\n pcapfile ${ours}\n pcaplinktype ${linktype}\n}\n`,
          `pcap-${linktype}.conf`,
        ),
      );
      try {
        await daemon.started();
        await waitFor(() => fs.existsSync(theirs), 5000, 'tcpdump to start');
        await new Promise((r) => setTimeout(r, 500));
        ns.exec('ping', ['-c', '2', '-i', '0.2', '-s', '1000', '127.0.0.1']);
        ns.exec('ping', ['-6', '-c', '2', '-i', '0.2', '::1']);
        try {
          ns.exec('ncat', ['-u', '-w', '1', '127.0.0.1', '9'], 'x'.repeat(300));
        } catch {
          /* refused */
        }
        await waitFor(() => readPcap(theirs).packets.length >= 9, 5000, 'tcpdump to capture every packet');
      } finally {
        tcpdump.kill('SIGINT');
        assert.equal(await daemon.stop(), 0);
      }
      const mine = readPcap(ours);
      const ref = readPcap(theirs);
      assert.equal(mine.linktype, linktype === 'raw' ? 101 : 239);
      assert.equal(ref.linktype, 239);
      const refPayloads = ref.packets.map((p) => nflogPayload(p.data));
      const myPayloads = mine.packets.map((p) => (linktype === 'raw' ? p.data : nflogPayload(p.data)));
      assert.equal(myPayloads.length, refPayloads.length);
      for (let i = 0; i < myPayloads.length; i++) assert.ok(myPayloads[i].equals(refPayloads[i]), `packet ${i} differs`);
      for (const p of mine.packets) {
        assert.equal(p.caplen, p.data.length);
        assert.ok(Math.abs(p.sec - Date.now() / 1000) < 60, 'packet time');
      }
      if (linktype === 'raw') {
        const families = new Set(myPayloads.map((d) => d[0] >> 4));
        assert.deepEqual([...families].sort(), [4, 6], 'IPv4 and IPv6 in one file');
        for (const p of mine.packets) assert.equal(p.len, p.caplen);
      } else {
        assert.ok(
          mine.packets.every((p) => p.data.includes(Buffer.from('cap: \0'))),
          'prefix kept',
        );
      }
      const td = execFileSync('tcpdump', ['-n', '-r', ours], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      assert.equal(td.trim().split('\n').length, mine.packets.length);
      assert.match(td, /ICMP echo request/);
      assert.match(td, /ICMP6, echo request/);
      const ts = execFileSync('tshark', ['-r', ours, '-T', 'fields', '-e', 'ip.src', '-e', 'ipv6.src'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      assert.match(ts, /127\.0\.0\.1/);
      assert.match(ts, /::1/);
    });
  }

  it('records the original length of packets the rule truncated', async () => {
    const file = path.join(dir, 'short.pcap');
    const ns2 = new NetNs('spt-pcap-cut');
    const daemon = new Daemon(
      ns2,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n5 {\n plugin BASE\n plugin PCAP\n pcapfile ${file}\n pcapsync\n copyrange 64\n}\n`,
        'short.conf',
      ),
    );
    try {
      ns2.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 5\n }\n}\n');
      await daemon.started();
      ns2.exec('ping', ['-c', '1', '-s', '1200', '127.0.0.1']);
      await waitFor(() => fs.existsSync(file) && readPcap(file).packets.length === 1, 5000, 'the packet');
    } finally {
      await daemon.stop();
      ns2.delete();
    }
    const [p] = readPcap(file).packets;
    assert.equal(p.caplen, 64);
    assert.equal(p.len, 1228);
  });

  it('rotates one file at a time under a name of its own: every packet is in the files', async () => {
    const sub = path.join(dir, 'rot');
    fs.mkdirSync(sub);
    const file = path.join(sub, 'rot.pcap');
    const ns2 = new NetNs('spt-pcap-rot');
    const daemon = new Daemon(
      ns2,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n6 {\n plugin BASE\n plugin PCAP\n pcapfile ${file}\n pcapsync\n pcaprotatesize 2000\n qthreshold 1\n}\n`,
        'rot.conf',
      ),
    );
    const files = () => fs.readdirSync(sub).map((f) => path.join(sub, f));
    const total = (count: (f: string) => number) => files().reduce((n, f) => n + count(f), 0);
    try {
      ns2.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 6\n }\n}\n');
      await daemon.started();
      // 40 packets of 600 bytes as fast as the loopback answers: many rotations in a row.
      ns2.exec('ping', ['-f', '-c', '40', '-s', '572', '127.0.0.1']);
      // A file listed may be renamed before it is read: count again then.
      await waitFor(
        () => {
          try {
            return total((f) => readPcap(f).packets.length) >= 40;
          } catch {
            return false;
          }
        },
        5000,
        'all 40 packets in the files',
      );
    } finally {
      assert.equal(await daemon.stop(), 0);
      ns2.delete();
    }
    const names = files()
      .map((f) => path.basename(f))
      .sort();
    assert.ok(names.length >= 10, `rotated into ${names.length} files: ${names.join(' ')}`);
    for (const n of names) assert.match(n, /^rot\.pcap(\.\d{8}-\d{6}(\.\d+)?)?$/);
    assert.equal(
      total(
        (f) =>
          execFileSync('tcpdump', ['-n', '-r', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
            .split('\n')
            .filter(Boolean).length,
      ),
      40,
      'packets in the files = packets sent',
    );
    assert.doesNotMatch(daemon.stderr, /cannot (rotate|write)/);
  });
});
