/**
 * One JSON object per packet, built in one pass with precomputed field
 * prefixes. Naming `specter` keeps key names ("ip.saddr"); `ecs` uses Elastic
 * Common Schema names (flat dotted field names, which Elasticsearch expands).
 */
import { hexString, ipToString, ipv4ToString, ipv6ToString, macToString } from '../../../src/core/format.js';
import type { Key } from '../../../src/core/keys.js';
import type { Record } from '../../../src/core/record.js';
import { actionFromPrefix, ECS_DERIVED, ECS_FIELDS, ecsMac, transportName } from './ecs.js';

interface Field {
  /** Slots feeding this field; the first present one wins (tcp.sport and udp.sport both give source.port). */
  slots: number[];
  head: string; // ,"name":
  conv: (v: unknown) => string;
}

const num = (v: unknown) => String(v);
/** Quoted strings, remembering the last one per field: prefixes and interface names repeat. */
function str(): (v: unknown) => string {
  let last: unknown;
  let quoted = '';
  return (v) => {
    if (v !== last) {
      quoted = JSON.stringify(v);
      last = v;
    }
    return quoted;
  };
}
const big = (v: unknown) => (Number.isSafeInteger(Number(v)) ? String(Number(v)) : `"${String(v)}"`);

function converter(key: Key, ecs: boolean): (v: unknown) => string {
  switch (key.type) {
    case 'u8': case 'u16': case 'u32': case 'i8': case 'i16': case 'i32': return num;
    case 'u64': case 'i64': return big;
    case 'bool': return (v) => (v ? 'true' : 'false');
    case 'ipv4': return (v) => `"${ipv4ToString(v as number)}"`;
    case 'ipv6': return (v) => `"${ipv6ToString(v as Uint8Array)}"`;
    case 'ipaddr': return (v) => `"${ipToString(v as number | Uint8Array)}"`;
    case 'mac': return ecs ? (v) => `"${ecsMac(v as Uint8Array)}"` : (v) => `"${macToString(v as Uint8Array)}"`;
    case 'raw': return (v) => `"${hexString(v as Uint8Array)}"`;
    case 'time': return (v) => `"${isoTime(v as number)}"`;
    default: return str();
  }
}

export class JsonEncoder {
  private readonly fields: Field[];
  private readonly sec?: Key;
  private readonly usec?: Key;
  private readonly prefix?: Key;
  private readonly proto?: Key;
  private readonly family?: Key;

  constructor(keys: readonly Key[], private readonly ecs: boolean, optional: (name: string) => Key | undefined) {
    this.sec = optional('oob.time.sec');
    this.usec = optional('oob.time.usec');
    const byName = new Map<string, Field>();
    for (const k of keys) {
      if (ecs && ECS_DERIVED.has(k.name)) continue;
      const name = ecs ? ECS_FIELDS[k.name] ?? `specter.${k.name}` : k.name;
      const f = byName.get(name);
      if (f) f.slots.push(k.slot);
      else byName.set(name, { slots: [k.slot], head: `,${JSON.stringify(name)}:`, conv: converter(k, ecs) });
    }
    this.fields = [...byName.values()];
    if (ecs) {
      this.prefix = optional('oob.prefix');
      this.proto = optional('ip.protocol');
      this.family = optional('oob.family');
    }
  }

  encode(rec: Record): string {
    const v = rec.values;
    const p = rec.present;
    let ms: number;
    if (this.sec && p[this.sec.slot]) ms = (v[this.sec.slot] as number) * 1000 + (this.usec && p[this.usec.slot] ? (v[this.usec.slot] as number) / 1000 : 0);
    else ms = Date.now();
    let s = (this.ecs ? '{"@timestamp":"' : '{"timestamp":"') + isoTime(ms) + '"';
    for (const f of this.fields) {
      const slots = f.slots;
      for (let i = 0; i < slots.length; i++) {
        if (p[slots[i]]) {
          s += f.head + f.conv(v[slots[i]]);
          break;
        }
      }
    }
    if (this.ecs) {
      s += ',"event.kind":"event","event.category":["network"]';
      if (this.prefix && p[this.prefix.slot]) s += ',"event.action":' + JSON.stringify(actionFromPrefix(v[this.prefix.slot] as string));
      if (this.family && p[this.family.slot]) {
        const fam = v[this.family.slot];
        if (fam === 2 || fam === 10) s += fam === 2 ? ',"network.type":"ipv4"' : ',"network.type":"ipv6"';
      }
      if (this.proto && p[this.proto.slot]) {
        const n = v[this.proto.slot] as number;
        s += `,"network.iana_number":"${n}","network.transport":"${transportName(n)}"`;
      }
    }
    return s + '}\n';
  }
}

const z2 = (n: number) => (n < 10 ? '0' : '') + n;

let cachedSec = NaN;
let cachedHead = '';
let cachedTail = '';

/** ISO 8601 in local time with the UTC offset and microseconds: 2026-11-22T15:04:05.123456+01:00. */
export function isoTime(ms: number): string {
  const sec = Math.floor(ms / 1000);
  // Packets come in bursts within one second: the date part is built once per second.
  if (sec !== cachedSec || process.env.TZ !== cachedTz) {
    const d = new Date(sec * 1000);
    const off = -d.getTimezoneOffset();
    const abs = Math.abs(off);
    cachedHead = `${d.getFullYear()}-${z2(d.getMonth() + 1)}-${z2(d.getDate())}T${z2(d.getHours())}:${z2(d.getMinutes())}:${z2(d.getSeconds())}.`;
    cachedTail = `${off >= 0 ? '+' : '-'}${z2(Math.floor(abs / 60))}:${z2(abs % 60)}`;
    cachedSec = sec;
    cachedTz = process.env.TZ;
  }
  const micro = Math.round((ms - sec * 1000) * 1000);
  return cachedHead + (micro < 100000 ? String(micro + 1000000).slice(1) : String(micro)) + cachedTail;
}
let cachedTz = process.env.TZ;
