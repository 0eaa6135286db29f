/**
 * Overload: the daemon is stopped (SIGSTOP) while a flood fills its socket
 * buffer, so the kernel drops datagrams (ENOBUFS). After SIGCONT it must
 * still run, and every packet must be either written or counted as lost.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, ROOT, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

describe('kernel drops under overload', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-overload');
    ns.nft(
      'table ip t {\n counter logged { }\n chain input {\n  type filter hook input priority 0; policy accept;\n  udp dport 9200 counter name logged log group 3 drop\n }\n}\n',
    );
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('are counted (ENOBUFS and sequence gaps) and the daemon keeps reading', async () => {
    const gen = path.join(dir, 'udpflood');
    execFileSync('cc', ['-O2', '-o', gen, path.join(ROOT, 'bench', 'udpflood.c')]);
    const pcap = path.join(dir, 'o.pcap');
    const daemon = new Daemon(
      ns,
      writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n rmem 256K\n}\n3 {\n plugin BASE\n plugin PCAP\n pcapfile ${pcap}\n pcapsync\n}\n`),
    );
    await daemon.started();
    daemon.signal('SIGSTOP');
    ns.exec(gen, ['127.0.0.1', '9200', '50000', '0', '64']);
    daemon.signal('SIGCONT');
    await new Promise((r) => setTimeout(r, 500));
    ns.exec(gen, ['127.0.0.1', '9200', '10', '0', '64']); // after the gap, so it shows in the sequence numbers
    const logged = Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 't', 'logged']))![1]);
    assert.equal(logged, 50010);
    const src = await waitFor(
      () => {
        daemon.signal('SIGUSR1');
        const c = daemon.stderr
          .split('\n')
          .filter((l) => l.includes('"NFLOG group 3"'))
          .map((l) => JSON.parse(l))
          .at(-1);
        return c && c.received + c.seq_gaps === logged ? c : null;
      },
      10000,
      `every packet received or counted as lost: ${daemon.stderr
        .split('\n')
        .filter((l) => l.includes('"NFLOG group 3"'))
        .at(-1)}`,
    );
    assert.ok(src.enobufs >= 1, 'the overrun was seen');
    assert.ok(src.seq_gaps > 0 && src.received > 0);
    assert.match(daemon.stderr, /kernel dropped packets/);
    assert.equal(await daemon.stop(), 0, 'still alive and exits cleanly');
    const b = fs.readFileSync(pcap);
    let n = 0;
    for (let o = 24; o < b.length; n++) o += 16 + b.readUInt32LE(o + 8);
    assert.equal(n, src.received, 'every received packet written');
  });
});
