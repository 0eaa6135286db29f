/**
 * Zones and labels as the ruleset sets them: `ct.zone` on every record of a
 * flow in a zone other than the default, `ct.labels` (the kernel's label
 * bitmap, hex in JSON) on the records of events that carry it.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

/** Bit numbers set in a label bitmap given as hex (bit n is bit n % 8 of byte n / 8 on a little-endian machine). */
const bits = (hex: string) => [...Buffer.from(hex, 'hex')].flatMap((byte, i) => [0, 1, 2, 3, 4, 5, 6, 7].filter((b) => byte & (1 << b)).map((b) => i * 8 + b));

describe('source NFCT: zones and labels', { timeout: 60_000 }, () => {
  it('writes the zone of a zoned flow on each of its records, and the labels the rules set on its NEW record', async () => {
    const ns = new NetNs('spt-nfct-zl');
    const dir = tempDir();
    let daemon: Daemon | undefined;
    try {
      ns.nft(`table inet t {
 chain raw {
  type filter hook output priority raw;
  udp dport 7001 ct zone set 5
 }
 chain out {
  type filter hook output priority 0;
  udp dport 7000 ct label set 3
  udp dport 7000 ct label set 100
 }
}
`);
      const json = path.join(dir, 'flows.json');
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n}\n1 {\n source NFCT\n ctevents new,destroy\n plugin JSON\n jsonfile ${json}\n jsonfields orig.l4.dport,ct.event,ct.zone,ct.labels\n jsonsync\n}\n`,
        ),
      );
      await daemon.started();
      ns.exec('python3', [
        '-c',
        `import socket\nfor port in (7000, 7001, 7002):\n    socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hi', ('127.0.0.1', port))\n`,
      ]);
      ns.exec('conntrack', ['-D', '-p', 'udp']);
      type Rec = { 'orig.l4.dport': number; 'ct.event': number; 'ct.zone'?: number; 'ct.labels'?: string };
      const records = () => (fs.existsSync(json) ? fs.readFileSync(json, 'utf8').split('\n').filter(Boolean) : []).map((l) => JSON.parse(l) as Rec);
      await waitFor(() => records().length >= 6, 10_000, 'a NEW and a DESTROY record of each flow');
      const of = (port: number, event: number) =>
        records().find((r) => r['orig.l4.dport'] === port && r['ct.event'] === event) ?? assert.fail(`no record of event ${event} for port ${port}`);

      assert.deepEqual(bits(of(7000, 1)['ct.labels'] ?? assert.fail('no ct.labels on the labelled NEW record')), [3, 100]);
      for (const port of [7001, 7002]) assert.equal(of(port, 1)['ct.labels'], undefined, `port ${port} has no labels`);

      assert.equal(of(7001, 1)['ct.zone'], 5);
      assert.equal(of(7001, 4)['ct.zone'], 5);
      for (const port of [7000, 7002]) for (const event of [1, 4]) assert.equal(of(port, event)['ct.zone'], undefined, `port ${port} is in the default zone`);
    } finally {
      if (daemon) await daemon.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
