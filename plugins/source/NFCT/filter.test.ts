import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../../test/daemon.js';
import { decodeDatagram } from './codec.js';
import { FlowFilter, parseMark } from './filter.js';
import { Flow } from './flow.js';
import { parseEvents } from './index.js';

/** The first flow of a captured datagram (test/fixtures/nfct/). */
function flow(name: string): Flow {
  const f = new Flow();
  decodeDatagram(fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nfct', name)), f, { flow: () => {} }, { flows: 0, malformed: 0 });
  return f;
}

describe('NFCT filters', () => {
  const dnat = flow('ipv4-udp-dnat-destroy.bin'); // 10.99.0.1 -> 10.99.0.1:5353, UDP
  const marked = flow('ipv4-udp-mark-destroy.bin'); // 127.0.0.1, mark 42
  const v6 = flow('ipv6-tcp-destroy.bin'); // ::1 -> ::1:8081, TCP

  it('matches address ranges of the original direction, IPv4 and IPv6, with prefixes off byte boundaries', () => {
    const m = (src: string, f: Flow) => new FlowFilter({ src }).match(f);
    assert.equal(m('10.99.0.0/16', dnat), true);
    assert.equal(m('10.96.0.0/13', dnat), true); // 10.96-10.103
    assert.equal(m('10.104.0.0/13', dnat), false);
    assert.equal(m('127.0.0.1, 10.99.0.1', dnat), true);
    assert.equal(m('0.0.0.0/0', dnat), true);
    assert.equal(m('0.0.0.0/0', v6), false, 'an IPv4 range never matches IPv6');
    assert.equal(m('::1', v6), true);
    assert.equal(m('::/127', v6), true);
    assert.equal(m('fe80::/10', v6), false);
    assert.equal(new FlowFilter({ dst: '10.99.0.1/32' }).match(dnat), true);
    assert.equal(new FlowFilter({ dst: '127.0.0.0/8' }).match(dnat), false, 'the original destination, before DNAT');
  });

  it('matches protocols by name or number, and the mark under a mask (an absent mark is 0)', () => {
    assert.equal(new FlowFilter({ proto: 'tcp, 17' }).match(dnat), true);
    assert.equal(new FlowFilter({ proto: 'tcp' }).match(dnat), false);
    assert.equal(new FlowFilter({ proto: 'TCP' }).match(v6), true);
    assert.equal(new FlowFilter({ mark: '42' }).match(marked), true);
    assert.equal(new FlowFilter({ mark: '0x20/0xf0' }).match(marked), true); // 42 = 0x2a
    assert.equal(new FlowFilter({ mark: '0x10/0xf0' }).match(marked), false);
    assert.equal(new FlowFilter({ mark: '0' }).match(dnat), true);
    assert.equal(new FlowFilter({ mark: '0/0xffffffff', proto: 'udp', src: '10.0.0.0/8' }).match(dnat), true);
    assert.equal(new FlowFilter({}).empty, true);
  });

  it('refuses what is no range, protocol, mark or event, naming it', () => {
    assert.throws(() => new FlowFilter({ src: '10.0.0.0/33' }), /"10\.0\.0\.0\/33": the prefix length must be 0 to 32/);
    assert.throws(() => new FlowFilter({ src: '10.0.0' }), /"10\.0\.0" is no source address range/);
    assert.throws(() => new FlowFilter({ dst: '1::2::3' }), /no destination address range/);
    assert.throws(() => new FlowFilter({ proto: 'tcp,bogus' }), /"bogus" is no protocol/);
    assert.throws(() => parseMark('0x1/0'), /is no mark/);
    assert.throws(() => parseMark('0x100000000'), /is no mark/);
    assert.deepEqual([...parseEvents('new, destroy')], ['new', 'destroy']);
    assert.throws(() => parseEvents('new,end'), /"end" is no conntrack event/);
  });
});
