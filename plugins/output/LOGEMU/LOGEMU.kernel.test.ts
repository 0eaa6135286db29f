/**
 * LOGEMU against the kernel itself: every packet is logged twice, once by the
 * kernel's own log statement (read back from dmesg) and once through NFLOG to
 * specter; after LOGEMU's time and host the two lines must be equal.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import { sendTcpFlags } from '../../../test/raw-tcp.js';

const SYSCTL = '/proc/sys/net/netfilter/nf_log_all_netns';
const tag = `K${process.pid.toString(36)}${Date.now().toString(36).slice(-4)}`;

// One rule pair per case: kernel log and NFLOG with the same prefix.
const CASES: Array<{ name: string; match: string }> = [
  { name: 'tcpsyn', match: 'tcp dport 7001 tcp flags syn' },
  { name: 'tcpdata', match: 'tcp dport 7002 tcp flags & (psh) == psh' },
  { name: 'udp', match: 'udp dport 7003' },
  { name: 'icmp', match: 'icmp type echo-request' },
  { name: 'tcp6', match: 'meta nfproto ipv6 tcp dport 7004' },
  { name: 'icmp6', match: 'icmpv6 type echo-request' },
];

// TCP flags words sent bare through a raw socket: each of the 12 bits alone
// (FIN SYN RST PSH ACK URG ECE CWR, then AE and the three reserved bits), none,
// all, and the usual combinations (handshake, teardown, scans, ECN set-up).
const FLAG_WORDS = [
  0x001, 0x002, 0x004, 0x008, 0x010, 0x020, 0x040, 0x080, 0x100, 0x200, 0x400, 0x800, 0x000, 0xfff, 0x012, 0x011, 0x018, 0x014, 0x029, 0x0c2, 0x1c2, 0x052,
  0x110, 0x190, 0xf00, 0xe00, 0x0ff,
];
const FLAGS = [
  { name: 'flags4', match: 'meta nfproto ipv4 tcp dport 7005', family: 4 as const },
  { name: 'flags6', match: 'meta nfproto ipv6 tcp dport 7005', family: 6 as const },
];

function rules(): string {
  const lines = [...CASES, ...FLAGS].flatMap((c) => [
    `    ${c.match} log prefix "${tag}${c.name}: " flags skuid`,
    `    ${c.match} log group 1 prefix "${tag}${c.name}: "`,
  ]);
  return `table inet logemu {\n  chain input {\n    type filter hook input priority 0; policy accept;\n${lines.join('\n')}\n  }\n}\n`;
}

/** The kernel's lines for our tag, from the prefix on, keyed by case name. */
function kernelLines(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const l of execFileSync('dmesg', ['--notime'], { encoding: 'utf8' }).split('\n')) {
    const at = l.indexOf(tag);
    if (at < 0) continue;
    const line = l.slice(at);
    const name = line.slice(tag.length, line.indexOf(':'));
    out.set(name, [...(out.get(name) ?? []), line]);
  }
  return out;
}

describe('LOGEMU lines equal the kernel LOG lines', { timeout: 60000 }, () => {
  let ns: NetNs;
  let daemon: Daemon;
  let dir: string;
  let logfile: string;
  let oldSysctl: string;

  before(async () => {
    oldSysctl = fs.readFileSync(SYSCTL, 'utf8').trim();
    fs.writeFileSync(SYSCTL, '1');
    dir = tempDir();
    logfile = path.join(dir, 'logemu.log');
    ns = new NetNs('spt-logemu');
    ns.nft(rules());
    const conf = writeConfig(
      dir,
      `global {\n  logfile stderr\n  loglevel 3\n}\n1 {\n  plugin BASE\n  plugin LOGEMU\n  logemufile ${logfile}\n  logemusync\n}\n`,
    );
    daemon = new Daemon(ns, conf);
    await daemon.started();
  });

  after(async () => {
    await daemon?.stop();
    ns?.delete();
    fs.writeFileSync(SYSCTL, oldSysctl);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('for IPv4 TCP (with and without payload), UDP, ICMP echo, IPv6 TCP and ICMPv6 echo', async () => {
    const tryExec = (cmd: string, args: string[], input?: string) => {
      try {
        ns.exec(cmd, args, input);
      } catch {
        /* refused: the packet was logged already */
      }
    };
    tryExec('ncat', ['-z', '-w', '1', '127.0.0.1', '7001']);
    const server = ns.spawn('ncat', ['-l', '127.0.0.1', '7002']);
    await new Promise((r) => setTimeout(r, 300));
    tryExec('ncat', ['-w', '1', '127.0.0.1', '7002'], 'some payload\n');
    server.kill();
    tryExec('ncat', ['-u', '-w', '1', '127.0.0.1', '7003'], 'datagram\n');
    ns.exec('ping', ['-c', '1', '127.0.0.1']);
    tryExec('ncat', ['-z', '-w', '1', '::1', '7004']);
    ns.exec('ping', ['-6', '-c', '1', '::1']);

    const ours = await waitFor(
      () => {
        const lines = fs.existsSync(logfile) ? fs.readFileSync(logfile, 'utf8').split('\n').filter(Boolean) : [];
        const names = new Set(lines.map((l) => l.slice(l.indexOf(tag) + tag.length).split(':')[0]));
        return CASES.every((c) => names.has(c.name)) ? lines : null;
      },
      10000,
      'specter to log every case',
    );
    const kernel = await waitFor(
      () => {
        const k = kernelLines();
        return CASES.every((c) => k.has(c.name)) ? k : null;
      },
      10000,
      'the kernel lines in dmesg',
    );

    for (const c of CASES) {
      const mine = ours.filter((l) => l.includes(`${tag}${c.name}:`));
      const theirs = kernel.get(c.name)!;
      assert.equal(mine.length, theirs.length, `${c.name}: as many lines as the kernel`);
      for (let i = 0; i < mine.length; i++) {
        const m = mine[i];
        // "Mmm dd hh:mm:ss host " comes before the kernel's text.
        assert.match(m, /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ /, `${c.name}: time and host`);
        const body = m.slice(m.indexOf(tag));
        assert.deepEqual(body.split(' '), theirs[i].split(' '), `${c.name}: field by field`);
        assert.equal(body, theirs[i], `${c.name}: byte for byte`);
      }
    }
  });

  it('for every TCP flags word the kernel prints differently (AE, reserved bits, all, none), IPv4 and IPv6', async () => {
    for (const f of FLAGS) sendTcpFlags(ns, f.family, 40000, 7005, FLAG_WORDS);
    const count = (lines: string[], name: string) => lines.filter((l) => l.includes(`${tag}${name}:`));
    const ours = await waitFor(
      () => {
        const lines = fs.existsSync(logfile) ? fs.readFileSync(logfile, 'utf8').split('\n') : [];
        return FLAGS.every((f) => count(lines, f.name).length === FLAG_WORDS.length) ? lines : null;
      },
      10000,
      'specter to log every flags word',
    );
    const kernel = await waitFor(
      () => {
        const k = kernelLines();
        return FLAGS.every((f) => k.get(f.name)?.length === FLAG_WORDS.length) ? k : null;
      },
      10000,
      'the kernel lines in dmesg',
    );
    for (const f of FLAGS) {
      const mine = count(ours, f.name).map((m) => m.slice(m.indexOf(tag)));
      const theirs = kernel.get(f.name)!;
      for (let i = 0; i < FLAG_WORDS.length; i++) {
        const what = `${f.name} flags 0x${FLAG_WORDS[i].toString(16).padStart(3, '0')}`;
        assert.deepEqual(mine[i].split(' '), theirs[i].split(' '), `${what}: field by field`);
        assert.equal(mine[i], theirs[i], `${what}: byte for byte`);
      }
    }
    // The kernel really printed the new flag and the narrowed RES= (else this test proves nothing).
    assert.match(kernel.get('flags4')![FLAG_WORDS.indexOf(0x100)], / RES=0x00 AE URGP=0 $/);
    assert.match(kernel.get('flags4')![FLAG_WORDS.indexOf(0xfff)], / RES=0x38 AE CWR ECE URG ACK PSH RST SYN FIN URGP=0 $/);
  });
});
