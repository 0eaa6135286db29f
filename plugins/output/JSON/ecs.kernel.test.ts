/**
 * ECS naming with real kernel packets of every kind BASE decodes: IPv4 and
 * IPv6 TCP, UDP, ICMP/ICMPv6, SCTP and ESP, ARP, bridged frames with a VLAN
 * tag, packets leaving through the output hook with their socket's owner.
 * Every key BASE and LOCAL produce is written, and every event must match the
 * vendored ECS field definitions.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { ecsViolations } from '../../../test/ecs-schema.js';
import { NetNs, waitFor } from '../../../test/netns.js';
import BASE from '../../input/BASE/index.js';
import LOCAL from '../../input/LOCAL/index.js';

const GROUP = 21;

// Sent from the peer namespace: an SCTP INIT-like packet and an ESP packet, through raw sockets.
const RAW = `
import socket
for proto, payload in ((132, bytes.fromhex('1f4000500000000000000000' '01000014000000010001000000010000')),
                       (50, bytes.fromhex('00001234000000010000000000000000'))):
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, proto)
    s.sendto(payload, ('10.9.0.1', 0))
`;

// A frame tagged with VLAN 5 (802.1Q header written by hand: this kernel has no VLAN devices), broadcast on vb.
const TAGGED = `
import socket, struct
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind(('vb', 0))
mac = bytes.fromhex(open('/sys/class/net/vb/address').read().strip().replace(':', ''))
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 28, 1, 0, 64, 17, 0, bytes([10, 9, 5, 2]), bytes([10, 9, 5, 1]))
s.send(b'\\xff' * 6 + mac + struct.pack('!HHH', 0x8100, 5, 0x0800) + ip + struct.pack('!HHHH', 7004, 7004, 8, 0))
`;

// Sent from the logging namespace by a local socket: logged in the output hook with its uid and gid.
const LOCAL_UDP = `
import socket
socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'out', ('10.9.0.2', 7003))
`;

describe('ECS output with kernel packets of every kind', { timeout: 90000 }, () => {
  let a: NetNs;
  let b: NetNs;
  let dir: string;
  let json: string;
  let daemon: Daemon;

  before(async () => {
    dir = tempDir();
    json = path.join(dir, 'ecs.json');
    a = new NetNs('spt-ecsa');
    b = new NetNs('spt-ecsb');
    // a: bridge br0 with port va; b: vb, its peer.
    a.exec('ip', ['link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb', 'netns', b.name]);
    a.exec('ip', ['link', 'add', 'br0', 'type', 'bridge', 'forward_delay', '0']);
    a.exec('ip', ['link', 'set', 'va', 'master', 'br0']);
    for (const dev of ['va', 'br0']) a.exec('ip', ['link', 'set', dev, 'up']);
    a.exec('ip', ['addr', 'add', '10.9.0.1/24', 'dev', 'br0']);
    a.exec('ip', ['addr', 'add', 'fd09::1/64', 'dev', 'br0', 'nodad']);
    b.exec('ip', ['link', 'set', 'vb', 'up']);
    b.exec('ip', ['addr', 'add', '10.9.0.2/24', 'dev', 'vb']);
    b.exec('ip', ['addr', 'add', 'fd09::2/64', 'dev', 'vb', 'nodad']);
    a.nft(`table inet t {
  chain input { type filter hook input priority 0; policy accept; log group ${GROUP} prefix "in: "; }
  chain output { type filter hook output priority 0; policy accept; log group ${GROUP} prefix "out: "; }
}
table arp t {
  chain input { type filter hook input priority 0; policy accept; log group ${GROUP} prefix "arp: "; }
}
table bridge t {
  chain pre { type filter hook prerouting priority 0; policy accept; vlan id 5 log group ${GROUP} prefix "vlan: "; }
}`);
    const fields = [...BASE.produces, ...LOCAL.produces].map((k) => k.name).join(',');
    daemon = new Daemon(
      a,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n${GROUP} {\n plugin BASE\n plugin LOCAL\n plugin JSON\n jsonfile ${json}\n jsonsync\n jsonnaming ecs\n jsonfields ${fields}\n}\n`,
      ),
    );
    await daemon.started();
  });

  after(async () => {
    await daemon?.stop();
    a?.delete();
    b?.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('writes only ECS names and types, with an event for each kind of packet', async () => {
    b.exec('ping', ['-c', '1', '-W', '1', '10.9.0.1']);
    b.exec('ping', ['-6', '-c', '1', '-W', '1', 'fd09::1']);
    for (const host of ['10.9.0.1', 'fd09::1']) {
      try {
        b.exec('ncat', ['-z', '-w', '1', host, '7001']);
      } catch {
        /* refused */
      }
      try {
        b.exec('ncat', ['-u', '-w', '1', host, '7002'], 'q');
      } catch {
        /* refused */
      }
    }
    b.exec('python3', ['-'], RAW);
    b.exec('python3', ['-'], TAGGED);
    a.exec('python3', ['-'], LOCAL_UDP);

    const want: Array<[string, (e: { [f: string]: unknown }) => boolean]> = [
      ['IPv4 ICMP', (e) => e['network.transport'] === 'icmp' && e['network.type'] === 'ipv4'],
      ['ICMPv6', (e) => e['network.transport'] === 'ipv6-icmp' && e['network.type'] === 'ipv6'],
      ['IPv4 TCP', (e) => e['network.transport'] === 'tcp' && e['network.type'] === 'ipv4' && e['destination.port'] === 7001],
      ['IPv6 TCP', (e) => e['network.transport'] === 'tcp' && e['network.type'] === 'ipv6' && e['destination.port'] === 7001],
      ['IPv4 UDP', (e) => e['network.transport'] === 'udp' && e['network.type'] === 'ipv4' && e['destination.port'] === 7002],
      ['IPv6 UDP', (e) => e['network.transport'] === 'udp' && e['network.type'] === 'ipv6' && e['destination.port'] === 7002],
      ['SCTP', (e) => e['network.transport'] === 'sctp' && e['destination.port'] === 80],
      ['ESP', (e) => e['network.transport'] === 'esp' && e['specter.ahesp.spi'] === 0x1234],
      ['ARP', (e) => e['event.action'] === 'arp' && e['specter.arp.hwtype'] !== undefined],
      ['VLAN', (e) => e['event.action'] === 'vlan' && e['network.vlan.id'] === '5'],
      ['output hook', (e) => e['event.action'] === 'out' && e['user.id'] === '0' && e['group.id'] === '0' && e['observer.egress.interface.name'] === 'br0'],
      ['input hook', (e) => e['event.action'] === 'in' && e['observer.ingress.interface.name'] === 'br0' && typeof e['source.mac'] === 'string'],
    ];
    const events = await waitFor(
      () => {
        const ev = fs.existsSync(json)
          ? fs
              .readFileSync(json, 'utf8')
              .split('\n')
              .filter(Boolean)
              .map((l) => JSON.parse(l))
          : [];
        return want.every(([, match]) => ev.some(match)) ? ev : null;
      },
      10000,
      'an event of every kind',
    ).catch((err) => {
      const ev = fs.readFileSync(json, 'utf8');
      throw new Error(
        `${err.message}; missing: ${want
          .filter(
            ([, m]) =>
              !ev
                .split('\n')
                .filter(Boolean)
                .map((l) => JSON.parse(l))
                .some(m),
          )
          .map(([n]) => n)
          .join(', ')}\n${ev}`,
      );
    });
    for (const e of events) assert.deepEqual(ecsViolations(e), [], JSON.stringify(e));
    // No event carries an empty name for a direction the packet did not take.
    assert.ok(events.some((e) => e['event.action'] === 'in' && !('observer.egress.interface.name' in e)));
  });
});
