import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { closestKeys, KeyRegistry } from '../../src/core/keys.js';
import { Record } from '../../src/core/record.js';

describe('key registry', () => {
  it('gives each name one slot, shared by every registration', () => {
    const r = new KeyRegistry();
    const a = r.register({ name: 'ip.saddr', type: 'ipaddr' });
    const b = r.register({ name: 'tcp.dport', type: 'u16' });
    assert.equal(a.slot, 0);
    assert.equal(b.slot, 1);
    assert.equal(r.register({ name: 'ip.saddr', type: 'ipaddr' }).slot, 0);
    assert.equal(r.get('tcp.dport'), b);
    assert.equal(r.size, 2);
  });

  it('refuses one name with two types', () => {
    const r = new KeyRegistry();
    r.register({ name: 'x', type: 'u8' });
    assert.throws(() => r.register({ name: 'x', type: 'string' }), /registered twice with different types/);
  });

  it('suggests close names', () => {
    assert.deepEqual(closestKeys('ip_sadr', ['ip.saddr', 'ip.daddr', 'tcp.sport']).slice(0, 1), ['ip.saddr']);
  });
});

describe('record', () => {
  it('clears only what the previous packet set', () => {
    const r = new KeyRegistry();
    const a = r.register({ name: 'a', type: 'u8' });
    const b = r.register({ name: 'b', type: 'u8' });
    const rec = new Record(r.size);
    rec.set(a, 1);
    assert.equal(rec.get(a), 1);
    assert.equal(rec.has(b), false);
    rec.clear();
    assert.equal(rec.has(a), false);
    assert.equal(rec.get(a), undefined);
    rec.set(b, 2);
    const seen: Array<[number, unknown]> = [];
    rec.forEachSet((s, v) => seen.push([s, v]));
    assert.deepEqual(seen, [[1, 2]]);
  });
});
