/** JSON output: through the kernel in both naming modes, and to a TCP peer that starts late. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import { isoTime } from '../../shared/json/encoder.js';

const readJson = (file: string) =>
  fs.existsSync(file)
    ? fs
        .readFileSync(file, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

describe('JSON timestamps', () => {
  it('are ISO 8601 with the local offset and microseconds', () => {
    const old = process.env.TZ;
    try {
      process.env.TZ = 'UTC';
      assert.equal(isoTime(Date.UTC(2026, 10, 22, 15, 4, 5) + 123.456), '2026-11-22T15:04:05.123456+00:00');
      process.env.TZ = 'Asia/Kolkata';
      assert.equal(isoTime(Date.UTC(2026, 10, 22, 15, 4, 6)), '2026-11-22T20:34:06.000000+05:30');
    } finally {
      if (old === undefined) delete process.env.TZ;
      else process.env.TZ = old;
    }
  });
});

describe('JSON output through the kernel', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon;
  let plain: string;
  let ecs: string;

  before(async () => {
    dir = tempDir();
    plain = path.join(dir, 'plain.json');
    ecs = path.join(dir, 'ecs.json');
    ns = new NetNs('spt-json');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    tcp dport 7100 log group 1 prefix "web-in: "
    udp dport 7101 log group 1 prefix "dns-in: "
  }
}`);
    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin LOCAL\n plugin JSON\n jsonfile ${plain}\n jsonsync\n}\n`,
        'plain.conf',
      ),
    );
    await daemon.started();
  });
  after(async () => {
    await daemon?.stop();
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes one parseable object per packet with typed values (specter names)', async () => {
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7100']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7101'], 'q');
    } catch {
      /* refused */
    }
    const rows = await waitFor(
      () => {
        const r = readJson(plain);
        return r.length >= 2 ? r : null;
      },
      5000,
      'two records',
    );
    const tcp = rows.find((r) => r['tcp.dport'] === 7100);
    const udp = rows.find((r) => r['udp.dport'] === 7101);
    assert.ok(tcp && udp);
    assert.equal(tcp['ip.saddr'], '127.0.0.1');
    assert.equal(tcp['oob.prefix'], 'web-in: ');
    assert.equal(tcp['oob.in'], 'lo');
    assert.equal(tcp['tcp.syn'], true);
    assert.equal(tcp['tcp.fin'], false);
    assert.equal(tcp['ip.protocol'], 6);
    assert.equal(typeof tcp['local.hostname'], 'string');
    assert.match(tcp.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/);
    assert.ok(Math.abs(Date.parse(tcp.timestamp) - Date.now()) < 60000);
    assert.equal(udp['ip.saddr'], '::1');
    assert.equal(udp['ip.protocol'], 17);
    // By default no packet bytes, no text copies of what is already there, no bridge ports of an unbridged packet.
    assert.equal(tcp['mac.saddr'], '00:00:00:00:00:00');
    for (const k of ['raw.pkt', 'raw.mac', 'ip.saddr.str', 'mac.str', 'oob.physin']) assert.equal(k in tcp, false, k);
  });

  it('uses Elastic Common Schema names when asked', async () => {
    await daemon.stop();
    daemon = new Daemon(
      ns,
      writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin JSON\n jsonfile ${ecs}\n jsonnaming ecs\n}\n`, 'ecs.conf'),
    );
    await daemon.started();
    try {
      ns.exec('ncat', ['-z', '-w', '1', '127.0.0.1', '7100']);
    } catch {
      /* refused */
    }
    try {
      ns.exec('ncat', ['-u', '-w', '1', '::1', '7101'], 'q');
    } catch {
      /* refused */
    }
    const rows = await waitFor(
      () => {
        const r = readJson(ecs);
        return r.length >= 2 ? r : null;
      },
      5000,
      'two records',
    );
    const tcp = rows.find((r) => r['destination.port'] === 7100);
    const udp = rows.find((r) => r['destination.port'] === 7101);
    assert.ok(tcp && udp);
    assert.equal(tcp['source.ip'], '127.0.0.1');
    assert.equal(tcp['destination.ip'], '127.0.0.1');
    assert.equal(typeof tcp['source.port'], 'number');
    assert.equal(tcp['network.transport'], 'tcp');
    assert.equal(tcp['network.type'], 'ipv4');
    assert.equal(tcp['network.iana_number'], '6');
    assert.equal(tcp['event.action'], 'web-in');
    assert.equal(tcp['observer.ingress.interface.name'], 'lo');
    assert.deepEqual(tcp['event.category'], ['network']);
    assert.match(tcp['@timestamp'], /[+-]\d\d:\d\d$/);
    assert.equal(tcp['specter.tcp.syn'], true);
    assert.equal(udp['network.transport'], 'udp');
    assert.equal(udp['network.type'], 'ipv6');
    assert.equal(udp['source.ip'], '::1');
  });
});

describe('JSON to a TCP peer', { timeout: 60000 }, () => {
  it('buffers while the peer is away and delivers everything once it listens', async () => {
    const dir = tempDir();
    const ns = new NetNs('spt-jsonsock');
    let daemon: Daemon | undefined;
    let server: net.Server | undefined;
    try {
      ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 2\n }\n}\n');
      const sockPath = path.join(dir, 'peer.sock');
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n}\n2 {\n plugin BASE\n plugin JSON\n jsonsocket unix:${sockPath}\n jsonfields ip.saddr,icmp.echoseq\n}\n`,
        ),
      );
      await daemon.started();
      ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
      await new Promise((r) => setTimeout(r, 300));
      let received = '';
      server = net.createServer((c) =>
        c.on('data', (d) => {
          received += d;
        }),
      );
      await new Promise<void>((r) => server!.listen(sockPath, r));
      const lines = await waitFor(
        () => {
          const l = received.split('\n').filter(Boolean);
          return l.length >= 3 ? l : null;
        },
        10000,
        'the buffered records',
      );
      const objs = lines.map((l) => JSON.parse(l));
      assert.deepEqual(
        objs.map((o) => o['icmp.echoseq']),
        [1, 2, 3],
      );
      assert.deepEqual(Object.keys(objs[0]), ['timestamp', 'ip.saddr', 'icmp.echoseq']);
      assert.match(daemon.stderr, /buffering and retrying/);
    } finally {
      await daemon?.stop();
      server?.close();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
