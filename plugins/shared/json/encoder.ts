/**
 * One JSON object per packet, encoded straight into a TextBuffer by a
 * function compiled at start-up for the configured fields. Naming `specter` keeps key names ("ip.saddr");
 * `ecs` uses Elastic Common Schema names (flat dotted field names, which
 * Elasticsearch expands).
 */
import { textForm, ipv6ToString, type Key, type KeyType, type Record, putBytes, putFixed, putInt, putIpv4, putUint, type TextBuffer } from 'specter/plugin';
import { actionFromPrefix, ECS_DERIVED, ECS_FIELDS, ECS_NUMBER_KEYWORDS, ECS_VERSION, transportName } from './ecs.js';
import { EcsFlow } from './ecs-flow.js';

const enum Kind {
  Uint,
  UintText,
  Int,
  Big,
  Bool,
  Ipv4,
  Ipv6,
  IpAddr,
  Mac,
  EcsMac,
  Raw,
  Time,
  Str,
}

function kindOf(type: KeyType, ecs: boolean): Kind {
  switch (type) {
    case 'u8':
    case 'u16':
    case 'u32':
      return Kind.Uint;
    case 'i8':
    case 'i16':
    case 'i32':
      return Kind.Int;
    case 'u64':
    case 'i64':
      return Kind.Big;
    case 'bool':
      return Kind.Bool;
    case 'ipv4':
      return Kind.Ipv4;
    case 'ipv6':
      return Kind.Ipv6;
    case 'ipaddr':
      return Kind.IpAddr;
    case 'mac':
      return ecs ? Kind.EcsMac : Kind.Mac;
    case 'raw':
      return Kind.Raw;
    case 'time':
      return Kind.Time;
    default:
      return Kind.Str;
  }
}

const ascii = (s: string) => Buffer.from(s, 'latin1');

/**
 * JSON text of a string value, remembering the last one: prefixes and interface
 * names repeat. Bytes of a prefix or login that are not valid UTF-8 become \xNN.
 */
class QuotedCache {
  private last: unknown = undefined;
  bytes: Buffer = ascii('""');

  get(v: unknown): Buffer {
    if (v !== this.last) {
      this.bytes = Buffer.from(JSON.stringify(textForm(String(v))), 'utf8');
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
  /** ECS leaves a field out rather than writing "" (no output interface, no prefix). */
  omitEmpty: boolean;
}

/** Fills the record's fields in: values, presence flags, the buffer, the timestamp in ms. */
type Run = (v: unknown[], p: Uint8Array, out: TextBuffer, ms: number) => void;

/** Upper bound of the value's bytes for kinds of bounded width; undefined for the others. */
function width(kind: Kind): number | undefined {
  switch (kind) {
    case Kind.Uint:
      return 16;
    case Kind.UintText:
      return 18;
    case Kind.Int:
      return 17;
    case Kind.Ipv4:
      return 17;
    case Kind.IpAddr:
      return 17; // as IPv4; an IPv6 value reserves its own room
    case Kind.Bool:
      return 5;
    case Kind.Time:
      return 34;
    default:
      return undefined;
  }
}

const TRUE = ascii('true');
const FALSE = ascii('false');
const ECS_VERSION_FIELD = ascii(`,"ecs.version":"${ECS_VERSION}"`);
const ECS_EVENT = ascii(',"event.kind":"event","event.category":["network"],"event.type":["connection"]');
const ECS_ACTION = ascii(',"event.action":');
const ECS_V4 = ascii(',"network.type":"ipv4"');
const ECS_V6 = ascii(',"network.type":"ipv6"');

/**
 * Compiles the field list into one function, as fast JSON serializers do:
 * each field becomes a presence test with its head stored byte by byte and
 * its value written by a put* call, all on a buffer and position held in
 * locals. Generated from key slots and byte values only, never from text.
 * Fields of bounded width share one reservation; the others reserve their own.
 */
function compile(fields: readonly Field[], open: Buffer): Run {
  let fixed = open.length + 36;
  for (const f of fields) {
    const w = width(f.kind);
    if (w !== undefined) fixed += f.head.length + w;
  }
  const variable: Array<(out: TextBuffer, value: unknown) => void> = [];
  const stores = (bytes: Uint8Array) => `${[...bytes].map((c, i) => `b[o+${i}]=${c};`).join('')}o+=${bytes.length};`;
  const lines: string[] = [`out.reserve(${fixed});`, 'let b = out.buf;', 'let o = out.pos;', stores(open), 'o = putIsoTime(b, o, ms);', 'b[o++] = 34;'];
  for (const f of fields) {
    const write = (slot: number): string => {
      switch (f.kind) {
        case Kind.Uint:
          return `${stores(f.head)} o = putUint(b, o, v[${slot}]);`;
        case Kind.UintText:
          return `${stores(f.head)} b[o++] = 34; o = putUint(b, o, v[${slot}]); b[o++] = 34;`;
        case Kind.Int:
          return `${stores(f.head)} o = putInt(b, o, v[${slot}]);`;
        case Kind.Ipv4:
          return `${stores(f.head)} b[o++] = 34; o = putIpv4(b, o, v[${slot}]); b[o++] = 34;`;
        case Kind.Bool:
          return `${stores(f.head)} o = putBytes(b, o, v[${slot}] ? TRUE : FALSE);`;
        case Kind.Time:
          return `${stores(f.head)} b[o++] = 34; o = putIsoTime(b, o, v[${slot}]); b[o++] = 34;`;
        case Kind.IpAddr:
          variable.push(variableWriter(f, fixed));
          return (
            `if (typeof v[${slot}] === 'number') { ${stores(f.head)} b[o++] = 34; o = putIpv4(b, o, v[${slot}]); b[o++] = 34; }` +
            ` else { out.pos = o; W[${variable.length - 1}](out, v[${slot}]); b = out.buf; o = out.pos; }`
          );
        default:
          variable.push(variableWriter(f, fixed));
          return `out.pos = o; W[${variable.length - 1}](out, v[${slot}]); b = out.buf; o = out.pos;`;
      }
    };
    lines.push(f.slots.map((slot) => `if (p[${slot}] === 1) { ${write(slot)} }`).join(' else '));
  }
  lines.push('out.pos = o;');
  const factory = new Function(
    'W',
    'TRUE',
    'FALSE',
    'putBytes',
    'putUint',
    'putInt',
    'putIpv4',
    'putIsoTime',
    `"use strict";\nreturn function run(v, p, out, ms) {\n  ${lines.join('\n  ')}\n};`,
  );
  return factory(variable, TRUE, FALSE, putBytes, putUint, putInt, putIpv4, putIsoTime) as Run;
}

/** The writer of a field of unbounded width; it leaves room for the bounded fields after it. */
function variableWriter(f: Field, fixed: number): (out: TextBuffer, value: unknown) => void {
  const head = f.head;
  const text = (out: TextBuffer, s: string) => {
    out.reserve(head.length + s.length + 2 + fixed);
    out.bytes(head);
    out.byte(34);
    out.latin1(s);
    out.byte(34);
  };
  switch (f.kind) {
    case Kind.Ipv6:
    case Kind.IpAddr: // IPv6 here; IPv4 is written inline
      return (out, v) => text(out, ipv6ToString(v as Uint8Array));
    case Kind.Big:
      return (out, v) => {
        const n = Number(v);
        if (!Number.isSafeInteger(n)) return text(out, String(v));
        out.reserve(head.length + 17 + fixed);
        out.bytes(head);
        out.int(n);
      };
    case Kind.Mac:
    case Kind.EcsMac:
    case Kind.Raw: {
      const sep = f.kind === Kind.Mac ? 58 : f.kind === Kind.EcsMac ? 45 : 0; // aa:bb:.., AA-BB-.., aabb..
      return (out, v) => {
        const b = v as Uint8Array;
        out.reserve(head.length + b.length * 3 + 2 + fixed);
        out.bytes(head);
        out.byte(34);
        out.hex(b, sep, f.kind === Kind.EcsMac);
        out.byte(34);
      };
    }
    default: {
      const quoted = new QuotedCache();
      const omitEmpty = f.omitEmpty;
      return (out, v) => {
        if (omitEmpty && v === '') return;
        const q = quoted.get(v);
        out.reserve(head.length + q.length + fixed);
        out.bytes(head);
        out.bytes(q);
      };
    }
  }
}

export class JsonEncoder {
  private readonly run: Run;
  private readonly sec?: Key;
  private readonly usec?: Key;
  private readonly prefix?: Key;
  private readonly proto?: Key;
  private readonly family?: Key;
  private readonly action = new QuotedCache();
  private lastPrefix: string | undefined;
  private lastAction: Buffer | null = null;
  private readonly transports = new Map<number, Buffer>();
  /** Flow records (source NFCT): their time and ECS fields. */
  private readonly flow: EcsFlow | null;

  constructor(
    keys: readonly Key[],
    private readonly ecs: boolean,
    optional: (name: string) => Key | undefined,
  ) {
    this.sec = optional('oob.time.sec');
    this.usec = optional('oob.time.usec');
    const byName = new Map<string, Field>();
    for (const k of keys) {
      if (ecs && ECS_DERIVED.has(k.name)) continue;
      const name = ecs ? (ECS_FIELDS[k.name] ?? `specter.${k.name}`) : k.name;
      const f = byName.get(name);
      if (f) f.slots.push(k.slot);
      else {
        const kind = ecs && ECS_NUMBER_KEYWORDS.has(k.name) ? Kind.UintText : kindOf(k.type, ecs);
        byName.set(name, { slots: [k.slot], head: Buffer.from(`,${JSON.stringify(name)}:`, 'utf8'), kind, omitEmpty: ecs });
      }
    }
    this.run = compile([...byName.values()], ascii(ecs ? '{"@timestamp":"' : '{"timestamp":"'));
    this.flow = EcsFlow.create(optional);
    if (ecs) {
      this.prefix = optional('oob.prefix');
      this.proto = optional('ip.protocol') ?? optional('orig.ip.protocol');
      this.family = optional('oob.family');
    }
  }

  /** Appends the record's line to `out`. */
  encode(rec: Record, out: TextBuffer): void {
    const v = rec.values;
    const p = rec.present;
    let ms: number;
    if (this.sec && p[this.sec.slot]) ms = (v[this.sec.slot] as number) * 1000 + (this.usec && p[this.usec.slot] ? (v[this.usec.slot] as number) / 1000 : 0);
    else ms = this.flow?.time(rec) ?? Date.now();
    const mark = out.mark();
    try {
      this.run(v, p, out, ms);
      if (this.ecs) this.ecsDerived(rec, out);
      out.reserve(2);
      out.byte(125); // }
      out.byte(10);
    } catch (err) {
      out.rewind(mark); // no half record in the output
      throw err;
    }
  }

  private ecsDerived(rec: Record, out: TextBuffer): void {
    const v = rec.values;
    const p = rec.present;
    const head = this.flow ? this.flow.eventHead(rec) : ECS_EVENT;
    out.reserve(ECS_VERSION_FIELD.length + head.length + ECS_V6.length);
    out.bytes(ECS_VERSION_FIELD);
    out.bytes(head);
    if (this.family && p[this.family.slot]) {
      const fam = v[this.family.slot];
      if (fam === 2) out.bytes(ECS_V4);
      else if (fam === 10) out.bytes(ECS_V6);
    }
    if (this.prefix && p[this.prefix.slot]) {
      const prefix = v[this.prefix.slot] as string;
      if (prefix !== this.lastPrefix) {
        const action = actionFromPrefix(prefix);
        this.lastAction = action ? this.action.get(action) : null; // no prefix, no event.action
        this.lastPrefix = prefix;
      }
      const q = this.lastAction;
      if (q) {
        out.reserve(ECS_ACTION.length + q.length);
        out.bytes(ECS_ACTION);
        out.bytes(q);
      }
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
    this.flow?.write(rec, out, isoTime);
  }
}

/** The parts of the time around the microseconds, per second; a small table, as a collector interleaves records of several sensors and of a backlog. */
const CLOCK_SLOTS = 64;
const clockSec = new Float64Array(CLOCK_SLOTS).fill(Number.NaN);
const clockHead: Buffer[] = new Array(CLOCK_SLOTS);
const clockTail: Buffer[] = new Array(CLOCK_SLOTS);

const z2 = (n: number) => (n < 10 ? '0' : '') + n;

/**
 * ISO 8601 in local time with the UTC offset and microseconds
 * (2026-11-22T15:04:05.123456+01:00, 32 bytes). Packets come in bursts
 * within one second: the parts around the microseconds are built once per second.
 */
function putIsoTime(b: Uint8Array, o: number, ms: number): number {
  const sec = Math.floor(ms / 1000);
  const i = sec & (CLOCK_SLOTS - 1);
  if (sec !== clockSec[i]) {
    const d = new Date(sec * 1000);
    const off = -d.getTimezoneOffset();
    const abs = Math.abs(off);
    clockHead[i] = ascii(`${d.getFullYear()}-${z2(d.getMonth() + 1)}-${z2(d.getDate())}T${z2(d.getHours())}:${z2(d.getMinutes())}:${z2(d.getSeconds())}.`);
    clockTail[i] = ascii(`${off >= 0 ? '+' : '-'}${z2(Math.floor(abs / 60))}:${z2(abs % 60)}`);
    clockSec[i] = sec;
  }
  o = putBytes(b, o, clockHead[i]);
  o = putFixed(b, o, Math.min(999999, Math.round((ms - sec * 1000) * 1000)), 6);
  return putBytes(b, o, clockTail[i]);
}

/** The same as a string. */
export function isoTime(ms: number): string {
  const b = Buffer.alloc(40);
  return b.toString('latin1', 0, putIsoTime(b, 0, ms));
}
