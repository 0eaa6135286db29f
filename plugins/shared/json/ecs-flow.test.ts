/**
 * ECS naming of flow records (source NFCT), from conntrack messages captured
 * from the kernel (test/fixtures/nfct/) through the NFCT record filling: every
 * field an ECS field of the right type, the NAT, totals and times derived.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { KeyRegistry, Record, TextBuffer } from 'specter/plugin';
import { ROOT } from '../../../test/daemon.js';
import { ecsViolations } from '../../../test/ecs-schema.js';
import { decodeDatagram } from '../../source/NFCT/codec.js';
import { FlowFiller } from '../../source/NFCT/fill.js';
import { Flow } from '../../source/NFCT/flow.js';
import { NFCT_KEYS } from '../../source/NFCT/keys.js';
import { JsonEncoder, isoTime } from './encoder.js';

const reg = new KeyRegistry();
const keys = NFCT_KEYS.map((k) => reg.register(k));
const filler = new FlowFiller((n) => reg.get(n));

/** The ECS object of a captured message's flow, with its kernel times. */
function ecs(name: string, naming = true): { [field: string]: unknown } {
  const rec = new Record(reg.size);
  decodeDatagram(
    fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nfct', name)),
    new Flow(),
    {
      flow: (f) => filler.fill(f, rec, f.startSec, Math.floor(f.startNsec / 1000), f.stopSec, f.stopSec < 0 ? -1 : Math.floor(f.stopNsec / 1000)),
    },
    { flows: 0, malformed: 0 },
  );
  const out = new TextBuffer();
  new JsonEncoder(keys, naming, (n) => reg.get(n)).encode(rec, out);
  return JSON.parse(out.take().toString('utf8'));
}

describe('ECS naming of flow records', () => {
  it('writes only ECS fields (and specter.*) with ECS types, IPv4 and IPv6, every event', () => {
    for (const f of fs.readdirSync(path.join(ROOT, 'test', 'fixtures', 'nfct')).filter((x) => x.endsWith('.bin'))) {
      const e = ecs(f);
      assert.deepEqual(ecsViolations(e), [], `${f}: ${JSON.stringify(e)}`);
    }
  });

  it('maps both directions of a DNAT flow: source, destination, destination.nat, totals, times', () => {
    const e = ecs('ipv4-udp-dnat-destroy.bin');
    assert.equal(e['source.ip'], '10.99.0.1');
    assert.equal(e['destination.ip'], '10.99.0.1');
    assert.equal(e['destination.port'], 5353);
    assert.equal(e['destination.nat.ip'], '127.0.0.1');
    assert.equal(e['destination.nat.port'], 53);
    assert.equal(e['source.nat.ip'], undefined, 'no SNAT: the reply goes back to the client');
    assert.deepEqual([e['source.packets'], e['source.bytes'], e['destination.packets'], e['destination.bytes']], [1, 31, 0, 0]);
    assert.deepEqual([e['network.packets'], e['network.bytes'], e['network.transport'], e['network.type']], [1, 31, 'udp', 'ipv4']);
    assert.deepEqual(e['event.type'], ['connection', 'end']);
    const start = Date.parse(e['event.start'] as string);
    const end = Date.parse(e['event.end'] as string);
    assert.ok(start > 1.6e12 && start <= end, `${e['event.start']} .. ${e['event.end']}`);
    assert.equal(e['@timestamp'], e['event.end'], 'a destroyed flow is stamped with its end');
    assert.ok(Math.abs((e['event.duration'] as number) - (end - start) * 1e6) < 1e6, `duration ${e['event.duration']}`);
    assert.equal(e['specter.reply.ip.saddr'], '127.0.0.1', 'the whole reply tuple stays under specter.');
  });

  it('writes source.nat for a translated source, and start for a new connection', () => {
    const neu = ecs('ipv4-icmp-new.bin');
    assert.deepEqual(neu['event.type'], ['connection', 'start']);
    assert.equal(neu['network.transport'], 'icmp');
    assert.equal(neu['network.packets'], undefined, 'a NEW event has no counters');
    // The same DNAT flow with its reply sent to another address and port (as SNAT makes it).
    const buf = Buffer.from(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nfct', 'ipv4-udp-dnat-destroy.bin')));
    const reply = buf.indexOf(Buffer.from([0x7f, 0, 0, 1])) + 8; // CTA_IP_V4_DST of the reply tuple follows its source
    buf.writeUInt32BE(0xc0000201, reply);
    const rec = new Record(reg.size);
    decodeDatagram(buf, new Flow(), { flow: (f) => filler.fill(f, rec) }, { flows: 0, malformed: 0 });
    const out = new TextBuffer();
    new JsonEncoder(keys, true, (n) => reg.get(n)).encode(rec, out);
    const e = JSON.parse(out.take().toString('utf8'));
    assert.equal(e['source.nat.ip'], '192.0.2.1');
    assert.equal(typeof e['source.nat.port'], 'number');
  });

  it('stamps a flow record with its end in specter naming too', () => {
    const e = ecs('ipv4-tcp-destroy.bin', false);
    const end = (e['flow.end.sec'] as number) * 1000 + (e['flow.end.usec'] as number) / 1000;
    assert.equal(e.timestamp, isoTime(end));
  });
});
