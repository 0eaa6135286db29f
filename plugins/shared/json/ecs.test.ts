/**
 * ECS naming against the Elastic Common Schema's own field definitions
 * (ecs_flat.yml of the release the encoder names in `ecs.version`): every key
 * the built-in inputs produce, alone and all together, IPv4 and IPv6.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ECS, ECS_RELEASE, ecsViolations } from '../../../test/ecs-schema.js';
import { KeyRegistry, type Key, type KeyType, Record, TextBuffer } from 'specter/plugin';
import BASE from '../../input/BASE/index.js';
import LOCAL from '../../input/LOCAL/index.js';
import PWSNIFF from '../../input/PWSNIFF/index.js';
import { ECS_DERIVED, ECS_VERSION } from './ecs.js';
import { JsonEncoder } from './encoder.js';

const reg = new KeyRegistry();
const keys = [BASE, LOCAL, PWSNIFF].flatMap((def) => def.produces.map((k) => reg.register(k)));
const key = (n: string) => reg.get(n) as Key;
const encoder = new JsonEncoder(keys, true, (n) => reg.get(n));
const rec = new Record(reg.size);

const V6 = Uint8Array.from(Buffer.from('20010db8000000000000000000000001', 'hex'));

/** A value of the key's type; `v6` picks IPv6 for keys that carry either family. */
function sample(type: KeyType, v6: boolean): unknown {
  switch (type) {
    case 'u8':
    case 'u16':
    case 'u32':
      return 7;
    case 'i8':
    case 'i16':
    case 'i32':
      return -7;
    case 'u64':
    case 'i64':
      return 7n;
    case 'bool':
      return true;
    case 'ipv4':
      return 0xc0000207;
    case 'ipv6':
      return V6;
    case 'ipaddr':
      return v6 ? V6 : 0xc0000207;
    case 'mac':
      return Uint8Array.of(0x02, 0x42, 0xac, 0x11, 0x00, 0x02);
    case 'raw':
      return Uint8Array.of(0x45, 0x00);
    case 'time':
      return Date.now();
    default:
      return 'x: ';
  }
}

function encode(fill: () => void): { [field: string]: unknown } {
  rec.clear();
  fill();
  const out = new TextBuffer();
  encoder.encode(rec, out);
  return JSON.parse(out.take().toString('utf8'));
}

function all(v6: boolean) {
  return encode(() => {
    for (const k of keys) rec.set(k, sample(k.type, v6));
    rec.set(key('oob.family'), v6 ? 10 : 2);
    rec.set(key('ip.protocol'), v6 ? 58 : 6);
  });
}

describe('ECS naming', () => {
  it("vendors the release the encoder follows, and keeps specter's own fields out of ECS names", () => {
    assert.equal(ECS_VERSION, ECS_RELEASE);
    assert.deepEqual(
      Object.keys(ECS).filter((n) => n === 'specter' || n.startsWith('specter.')),
      [],
    );
  });

  it('writes only ECS field names with ECS types, for every key alone and all together', () => {
    for (const e of [all(false), all(true)]) assert.deepEqual(ecsViolations(e), [], JSON.stringify(e));
    const always = Object.keys(encode(() => {}));
    for (const k of keys) {
      const e = encode(() => rec.set(k, sample(k.type, false)));
      assert.deepEqual(ecsViolations(e), [], `${k.name}: ${JSON.stringify(e)}`);
      // Each key reaches the output under a name of its own, so none goes unchecked.
      if (!ECS_DERIVED.has(k.name)) assert.equal(Object.keys(e).length, always.length + 1, `${k.name}: ${JSON.stringify(e)}`);
    }
  });

  it('writes ids as keywords, the version, the event type, and leaves empty names out', () => {
    const e = all(false);
    assert.equal(e['ecs.version'], ECS_RELEASE);
    assert.deepEqual(e['event.type'], ['connection']);
    for (const f of ['observer.ingress.interface.id', 'observer.egress.interface.id', 'user.id', 'group.id', 'network.vlan.id']) assert.equal(e[f], '7', f);
    const empty = encode(() => {
      for (const n of ['oob.prefix', 'oob.in', 'oob.out']) rec.set(key(n), '');
      rec.set(key('oob.ifindex_in'), 1);
    });
    assert.deepEqual(Object.keys(empty).sort(), ['@timestamp', 'ecs.version', 'event.category', 'event.kind', 'event.type', 'observer.ingress.interface.id']);
  });
});
