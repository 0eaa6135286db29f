/**
 * Makes the nfnetlink_conntrack fixtures (test/fixtures/nfct/): run as root,
 * `node dist/test/nfct/capture.js`. Inside a namespace of its own, with
 * nf_conntrack_acct and nf_conntrack_timestamp on, it subscribes to the
 * conntrack NEW, UPDATE and DESTROY groups, makes the flows the README lists,
 * and writes each first datagram of a kind to its file. Not a test.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { decodeDatagram, encodeDump } from '../../plugins/source/NFCT/codec.js';
import { EVENT, NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE } from '../../plugins/source/NFCT/constants.js';
import { Flow } from '../../plugins/source/NFCT/flow.js';
import { ROOT } from '../daemon.js';
import { NetNs } from '../netns.js';

const OUT = path.join(ROOT, 'test', 'fixtures', 'nfct');
const got: Array<{ buf: Buffer; event: number; proto: number; family: number }> = [];
const stats = { flows: 0, malformed: 0 };
const flow = new Flow();

async function main(): Promise<void> {
  // Node cannot enter a namespace itself: the script runs itself again under `ip netns exec`.
  if (process.env.NFCT_CAPTURE_INSIDE !== '1') {
    const ns = new NetNs('nfctcap');
    try {
      for (const [k, v] of [
        ['net.netfilter.nf_conntrack_acct', '1'],
        ['net.netfilter.nf_conntrack_timestamp', '1'],
      ])
        ns.exec('sysctl', ['-qw', `${k}=${v}`]);
      ns.exec('ip', ['addr', 'add', '10.99.0.1/24', 'dev', 'lo']);
      ns.nft(`table inet cap {
        chain pre { type nat hook prerouting priority dstnat; }
        chain out { type nat hook output priority -100; ip daddr 10.99.0.1 udp dport 5353 dnat ip to 127.0.0.1:53; }
        chain post { type nat hook postrouting priority srcnat; }
        chain in { type filter hook output priority 0; udp dport 7777 ct mark set 42; }
      }`);
      execFileSync('ip', ['netns', 'exec', ns.name, process.execPath, process.argv[1]], {
        env: { ...process.env, NFCT_CAPTURE_INSIDE: '1' },
        stdio: 'inherit',
      });
    } finally {
      ns.delete();
    }
    return;
  }
  const sock = new NetlinkSocket(12, {
    datagram(buf) {
      const copy = Buffer.from(buf);
      decodeDatagram(
        copy,
        flow,
        {
          flow: (f) => got.push({ buf: copy, event: f.event, proto: f.orig.proto, family: f.family }),
        },
        stats,
      );
    },
    error(errno) {
      console.error('receive error', errno);
    },
    failed(err) {
      console.error(err);
    },
  });
  sock.setReceiveBuffer(1 << 22);
  sock.bind((1 << (NFNLGRP_CONNTRACK_NEW - 1)) | (1 << (NFNLGRP_CONNTRACK_UPDATE - 1)) | (1 << (NFNLGRP_CONNTRACK_DESTROY - 1)));
  const sh = (cmd: string) => {
    try {
      execFileSync('sh', ['-c', cmd], { stdio: 'ignore', timeout: 5000 });
    } catch {
      /* the traffic is what counts */
    }
  };
  sh('ping -c1 -W1 127.0.0.1');
  sh('ping -6 -c1 -W1 ::1');
  sh('echo hi | ncat -u -w1 10.99.0.1 5353');
  sh('echo hi | ncat -u -w1 127.0.0.1 7777');
  sh('ncat -l 127.0.0.1 8080 >/dev/null & sleep 0.2; echo hello | ncat 127.0.0.1 8080; sleep 0.3');
  sh('ncat -6 -l ::1 8081 >/dev/null & sleep 0.2; echo hello | ncat -6 ::1 8081; sleep 0.3');
  await new Promise((r) => setTimeout(r, 300));
  sh('conntrack -D >/dev/null 2>&1');
  await new Promise((r) => setTimeout(r, 300));
  // A dump answer (NLM_F_MULTI) of a table with one flow in it.
  sh('echo hi | ncat -u -w1 127.0.0.1 6666');
  await new Promise((r) => setTimeout(r, 200));
  const dump: Buffer[] = [];
  const dumper = new NetlinkSocket(12, { datagram: (b) => dump.push(Buffer.from(b)), error() {}, failed() {} });
  dumper.bind(0);
  dumper.send(encodeDump(1));
  await new Promise((r) => setTimeout(r, 300));
  dumper.close();
  sock.close();

  const want: Array<[string, (g: (typeof got)[number]) => boolean]> = [
    ['ipv4-icmp-new.bin', (g) => g.event === EVENT.NEW && g.proto === 1],
    ['ipv4-icmp-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 1],
    ['ipv6-icmpv6-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 58],
    ['ipv4-udp-dnat-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 17 && flow4(g.buf, 5353)],
    ['ipv4-udp-mark-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 17 && flow4(g.buf, 7777)],
    ['ipv4-tcp-update.bin', (g) => g.event === EVENT.UPDATE && g.proto === 6 && g.family === 2],
    ['ipv4-tcp-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 6 && g.family === 2],
    ['ipv6-tcp-destroy.bin', (g) => g.event === EVENT.DESTROY && g.proto === 6 && g.family === 10],
  ];
  for (const [file, match] of want) {
    const g = got.find(match);
    if (!g) {
      console.error(`no message for ${file}`);
      continue;
    }
    fs.writeFileSync(path.join(OUT, file), g.buf);
  }
  if (dump[0]) fs.writeFileSync(path.join(OUT, 'dump-udp.bin'), dump[0]);
  console.log(`${got.length} messages, ${stats.malformed} malformed, dump ${dump.map((d) => d.length).join(',')}`);
}

/** Whether the datagram's first flow has original destination port `port`. */
function flow4(buf: Buffer, port: number): boolean {
  let match = false;
  decodeDatagram(
    buf,
    new Flow(),
    {
      flow: (f) => {
        match = f.orig.dport === port;
      },
    },
    { flows: 0, malformed: 0 },
  );
  return match;
}

void main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
