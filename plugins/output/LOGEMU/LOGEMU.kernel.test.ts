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

function rules(): string {
  const lines = CASES.flatMap((c) => [
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
    out.set(name, [...(out.get(name) ?? []), line.trimEnd()]);
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
    const conf = writeConfig(dir, `global {\n  logfile stderr\n  loglevel 3\n}\n1 {\n  plugin BASE\n  plugin LOGEMU\n  logemufile ${logfile}\n  logemusync\n}\n`);
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
      try { ns.exec(cmd, args, input); } catch { /* refused: the packet was logged already */ }
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

    const ours = await waitFor(() => {
      const lines = fs.existsSync(logfile) ? fs.readFileSync(logfile, 'utf8').split('\n').filter(Boolean) : [];
      const names = new Set(lines.map((l) => l.slice(l.indexOf(tag) + tag.length).split(':')[0]));
      return CASES.every((c) => names.has(c.name)) ? lines : null;
    }, 10000, 'specter to log every case');
    const kernel = await waitFor(() => {
      const k = kernelLines();
      return CASES.every((c) => k.has(c.name)) ? k : null;
    }, 10000, 'the kernel lines in dmesg');

    for (const c of CASES) {
      const mine = ours.filter((l) => l.includes(`${tag}${c.name}:`));
      const theirs = kernel.get(c.name)!;
      assert.equal(mine.length, theirs.length, `${c.name}: as many lines as the kernel`);
      for (let i = 0; i < mine.length; i++) {
        const m = mine[i];
        // "Mmm dd hh:mm:ss host " comes before the kernel's text.
        assert.match(m, /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ /, `${c.name}: time and host`);
        const body = m.slice(m.indexOf(tag)).trimEnd();
        assert.deepEqual(body.split(' '), theirs[i].split(' '), `${c.name}: field by field`);
      }
    }
  });
});
