/**
 * One JSON object per packet, encoded straight into a TextBuffer with field
 * heads prepared at start-up. Naming `specter` keeps key names ("ip.saddr");
 * `ecs` uses Elastic Common Schema names (flat dotted field names, which
 * Elasticsearch expands).
 */
import { ipv6ToString } from '../../../src/core/format.js';
import type { Key, KeyType } from '../../../src/core/keys.js';
import type { Record } from '../../../src/core/record.js';
import { TextBuffer } from '../../../src/core/text-buffer.js';
import { actionFromPrefix, ECS_DERIVED, ECS_FIELDS, transportName } from './ecs.js';

const enum Kind { Uint, Int, Big, Bool, Ipv4, Ipv6, IpAddr, Mac, EcsMac, Raw, Time, Str }

function kindOf(type: KeyType, ecs: boolean): Kind {
  switch (type) {
    case 'u8': case 'u16': case 'u32': return Kind.Uint;
    case 'i8': case 'i16': case 'i32': return Kind.Int;
    case 'u64': case 'i64': return Kind.Big;
    case 'bool': return Kind.Bool;
    case 'ipv4': return Kind.Ipv4;
    case 'ipv6': return Kind.Ipv6;
    case 'ipaddr': return Kind.IpAddr;
    case 'mac': return ecs ? Kind.EcsMac : Kind.Mac;
    case 'raw': return Kind.Raw;
    case 'time': return Kind.Time;
    default: return Kind.Str;
  }
}

const ascii = (s: string) => Buffer.from(s, 'latin1');

/** JSON text of a string value, remembering the last one: prefixes and interface names repeat. */
class QuotedCache {
  private last: unknown = undefined;
  bytes: Buffer = ascii('""');

  get(v: unknown): Buffer {
    if (v !== this.last) {
      this.bytes = Buffer.from(JSON.stringify(String(v)), 'utf8');
      this.last = v;
    }
    return this.bytes;
  }
}

interface Field {
  /** Slots feeding this field; the first present one wins (tcp.sport and udp.sport both give source.port). */
  slots: number[];
  head: Buffer; // ,"name":
  kind: Kind;
  quoted: QuotedCache;
}

const TRUE = ascii('true');
const FALSE = ascii('false');
const ECS_EVENT = ascii(',"event.kind":"event","event.category":["network"]');
const ECS_ACTION = ascii(',"event.action":');
const ECS_V4 = ascii(',"network.type":"ipv4"');
const ECS_V6 = ascii(',"network.type":"ipv6"');

export class JsonEncoder {
  private readonly fields: Field[];
  private readonly open: Buffer;
  private readonly sec?: Key;
  private readonly usec?: Key;
  private readonly prefix?: Key;
  private readonly proto?: Key;
  private readonly family?: Key;
  private readonly action = new QuotedCache();
  private readonly transports = new Map<number, Buffer>();

  constructor(keys: readonly Key[], private readonly ecs: boolean, optional: (name: string) => Key | undefined) {
    this.sec = optional('oob.time.sec');
    this.usec = optional('oob.time.usec');
    this.open = ascii(ecs ? '{"@timestamp":"' : '{"timestamp":"');
    const byName = new Map<string, Field>();
    for (const k of keys) {
      if (ecs && ECS_DERIVED.has(k.name)) continue;
      const name = ecs ? ECS_FIELDS[k.name] ?? `specter.${k.name}` : k.name;
      const f = byName.get(name);
      if (f) f.slots.push(k.slot);
      else byName.set(name, { slots: [k.slot], head: Buffer.from(`,${JSON.stringify(name)}:`, 'utf8'), kind: kindOf(k.type, ecs), quoted: new QuotedCache() });
    }
    this.fields = [...byName.values()];
    if (ecs) {
      this.prefix = optional('oob.prefix');
      this.proto = optional('ip.protocol');
      this.family = optional('oob.family');
    }
  }

  /** Appends the record's line to `out`. */
  encode(rec: Record, out: TextBuffer): void {
    const mark = out.mark();
    try {
      this.encodeFields(rec, out);
    } catch (err) {
      out.rewind(mark); // no half record in the output
      throw err;
    }
  }

  private encodeFields(rec: Record, out: TextBuffer): void {
    const v = rec.values;
    const p = rec.present;
    let ms: number;
    if (this.sec && p[this.sec.slot]) ms = (v[this.sec.slot] as number) * 1000 + (this.usec && p[this.usec.slot] ? (v[this.usec.slot] as number) / 1000 : 0);
    else ms = Date.now();
    out.reserve(64);
    out.bytes(this.open);
    writeIsoTime(out, ms);
    out.byte(34); // "
    const fields = this.fields;
    for (let fi = 0; fi < fields.length; fi++) {
      const f = fields[fi];
      const slots = f.slots;
      for (let i = 0; i < slots.length; i++) {
        if (p[slots[i]]) {
          this.value(out, f, v[slots[i]]);
          break;
        }
      }
    }
    if (this.ecs) this.ecsDerived(rec, out);
    out.reserve(2);
    out.byte(125); // }
    out.byte(10);
  }

  private value(out: TextBuffer, f: Field, v: unknown): void {
    switch (f.kind) {
      case Kind.Uint:
        out.reserve(f.head.length + 16);
        out.bytes(f.head);
        out.uint(v as number);
        return;
      case Kind.Int:
        out.reserve(f.head.length + 16);
        out.bytes(f.head);
        out.int(v as number);
        return;
      case Kind.Ipv4:
        out.reserve(f.head.length + 17);
        out.bytes(f.head);
        quotedIpv4(out, v as number);
        return;
      case Kind.IpAddr:
        if (typeof v === 'number') {
          out.reserve(f.head.length + 17);
          out.bytes(f.head);
          quotedIpv4(out, v);
          return;
        }
        this.text(out, f.head, ipv6ToString(v as Uint8Array));
        return;
      case Kind.Ipv6:
        this.text(out, f.head, ipv6ToString(v as Uint8Array));
        return;
      case Kind.Bool:
        out.reserve(f.head.length + 5);
        out.bytes(f.head);
        out.bytes(v ? TRUE : FALSE);
        return;
      case Kind.Mac:
      case Kind.EcsMac:
      case Kind.Raw: {
        const b = v as Uint8Array;
        out.reserve(f.head.length + b.length * 3 + 2);
        out.bytes(f.head);
        out.byte(34);
        if (f.kind === Kind.Raw) out.hex(b);
        else out.hex(b, f.kind === Kind.Mac ? 58 : 45, f.kind === Kind.EcsMac); // aa:bb:.. or AA-BB-..
        out.byte(34);
        return;
      }
      case Kind.Time:
        out.reserve(f.head.length + 40);
        out.bytes(f.head);
        out.byte(34);
        writeIsoTime(out, v as number);
        out.byte(34);
        return;
      case Kind.Big: {
        const n = Number(v);
        if (Number.isSafeInteger(n)) {
          out.reserve(f.head.length + 24);
          out.bytes(f.head);
          out.int(n);
        } else this.text(out, f.head, String(v));
        return;
      }
      default: {
        const q = f.quoted.get(v);
        out.reserve(f.head.length + q.length);
        out.bytes(f.head);
        out.bytes(q);
      }
    }
  }

  /** A quoted value of plain ASCII text (addresses, large numbers). */
  private text(out: TextBuffer, head: Buffer, s: string): void {
    out.reserve(head.length + s.length + 2);
    out.bytes(head);
    out.byte(34);
    out.latin1(s);
    out.byte(34);
  }

  private ecsDerived(rec: Record, out: TextBuffer): void {
    const v = rec.values;
    const p = rec.present;
    out.reserve(ECS_EVENT.length + 32);
    out.bytes(ECS_EVENT);
    if (this.prefix && p[this.prefix.slot]) {
      const q = this.action.get(actionFromPrefix(v[this.prefix.slot] as string));
      out.reserve(ECS_ACTION.length + q.length);
      out.bytes(ECS_ACTION);
      out.bytes(q);
    }
    if (this.family && p[this.family.slot]) {
      const fam = v[this.family.slot];
      if (fam === 2) out.bytes(ECS_V4);
      else if (fam === 10) out.bytes(ECS_V6);
    }
    if (this.proto && p[this.proto.slot]) {
      const n = v[this.proto.slot] as number;
      let t = this.transports.get(n);
      if (!t) {
        t = ascii(`,"network.iana_number":"${n}","network.transport":"${transportName(n)}"`);
        this.transports.set(n, t);
      }
      out.reserve(t.length);
      out.bytes(t);
    }
  }
}

function quotedIpv4(out: TextBuffer, a: number): void {
  out.byte(34);
  out.ipv4(a);
  out.byte(34);
}

let clockSec = NaN;
let clockHead = Buffer.alloc(0);
let clockTail = Buffer.alloc(0);

const z2 = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * ISO 8601 in local time with the UTC offset and microseconds
 * (2026-11-22T15:04:05.123456+01:00, 32 bytes). Packets come in bursts
 * within one second: the parts around the microseconds are built once per second.
 */
export function writeIsoTime(out: TextBuffer, ms: number): void {
  const sec = Math.floor(ms / 1000);
  if (sec !== clockSec) {
    const d = new Date(sec * 1000);
    const off = -d.getTimezoneOffset();
    const abs = Math.abs(off);
    clockHead = ascii(`${d.getFullYear()}-${z2(d.getMonth() + 1)}-${z2(d.getDate())}T${z2(d.getHours())}:${z2(d.getMinutes())}:${z2(d.getSeconds())}.`);
    clockTail = ascii(`${off >= 0 ? '+' : '-'}${z2(Math.floor(abs / 60))}:${z2(abs % 60)}`);
    clockSec = sec;
  }
  out.bytes(clockHead);
  out.fixed(Math.min(999999, Math.round((ms - sec * 1000) * 1000)), 6);
  out.bytes(clockTail);
}

/** The same as a string. */
export function isoTime(ms: number): string {
  const out = new TextBuffer(64);
  writeIsoTime(out, ms);
  return out.take().toString('latin1');
}
