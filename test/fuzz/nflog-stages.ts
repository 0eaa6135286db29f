/// <reference lib="es2024.string" />
/**
 * The stages a datagram goes through in the fuzz test, each followed by its
 * invariants: the codec (every view it hands out lies inside the datagram),
 * BASE with every key wanted (every value fits its key's type), PWSNIFF (a
 * login is reported only in a TCP segment BASE decodes to a watched port),
 * the kernel LOG line (printable ASCII after the prefix, no negative or
 * undefined numbers) and the JSON encoder (every line parses, with the
 * record's values). A broken invariant throws an Error saying which.
 */
import pino from 'pino';
import BASE from '../../plugins/input/BASE/index.js';
import PWSNIFF from '../../plugins/input/PWSNIFF/index.js';
import { JsonEncoder } from '../../plugins/shared/json/encoder.js';
import { PacketLine } from '../../plugins/shared/kernel-log/packet-line.js';
import { Counters } from '../../src/core/counters.js';
import { KeyRegistry, type Key, type KeyType } from '../../src/core/keys.js';
import { Packet } from '../../src/core/packet.js';
import type { InputDefinition, InputInstance, OptionValues, OutputContext } from '../../src/core/plugin.js';
import { Record } from '../../src/core/record.js';
import { TextBuffer } from '../../src/core/text-buffer.js';
import { decodeDatagram, type DecodeStats } from '../../src/nflog/codec.js';

const PWSNIFF_PORTS = new Set([21, 110, 143]);
const MAX: { [t in KeyType]?: number } = { u8: 0xff, u16: 0xffff, u32: 0xffffffff, ipv4: 0xffffffff };
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}[+-]\d\d:\d\d$/;
// After the prefix: printable ASCII only; no number printed negative, undefined or NaN.
const BAD_LINE = /[^\x20-\x7e]|[=[:]-|undefined|NaN|null|Infinity/;

/** A broken invariant, as opposed to an exception from the code under test. */
export class InvariantError extends Error {}

export class Stages {
  readonly keys = new KeyRegistry();
  private readonly pkt = new Packet();
  private readonly rec: Record;
  private readonly inputs: InputInstance[];
  private readonly line: PacketLine;
  private readonly json: JsonEncoder;
  private readonly ecs: JsonEncoder;
  private readonly out = new TextBuffer(64 * 1024);
  private readonly stats: DecodeStats = { packets: 0, malformed: 0 };
  private readonly k: { [name: string]: Key };
  private readonly onPacket = (pkt: Packet) => this.packet(pkt);
  private withEcs = false;
  /** Packets decoded and checked so far. */
  packets = 0;
  /** The last packet's kernel line and JSON line (specter naming). */
  lastLine = '';
  lastJson = '';

  constructor() {
    for (const def of [BASE, PWSNIFF]) for (const k of def.produces) this.keys.register(k);
    const k: { [name: string]: Key } = {};
    for (const key of this.keys.all()) k[key.name] = key;
    this.k = k;
    this.rec = new Record(this.keys.size);
    this.inputs = [BASE, PWSNIFF].map((def) => this.input(def));
    const ctx = {
      name: 'fuzz',
      group: 1,
      options: {},
      log: pino({ level: 'silent' }),
      counters: new Counters(),
      checkOnly: false,
      fail: (m: string): never => {
        throw new Error(m);
      },
      key: (n: string) => k[n],
      optionalKey: (n: string) => k[n],
      allKeys: () => this.keys.all(),
      producedKeys: () => this.keys.all(),
      commit() {},
      sensor: 'fuzz',
      divertTo: (): never => {
        throw new Error('no divert in the fuzz test');
      },
    } satisfies OutputContext;
    this.line = new PacketLine(ctx);
    const optional = (n: string) => k[n];
    this.json = new JsonEncoder(this.keys.all(), false, optional);
    this.ecs = new JsonEncoder(this.keys.all(), true, optional);
  }

  private input(def: InputDefinition): InputInstance {
    const opts: { [n: string]: unknown } = {};
    for (const [n, spec] of Object.entries(def.options)) opts[n] = spec.default;
    return def.create({
      name: def.name,
      group: 1,
      options: opts as OptionValues,
      log: pino({ level: 'silent' }),
      counters: new Counters(),
      checkOnly: false,
      fail: (m: string): never => {
        throw new Error(m);
      },
      want: (n) => this.keys.get(n) ?? null, // every key wanted
      key: (n) => this.keys.get(n)!,
    }) as InputInstance;
  }

  /** Runs one datagram through every stage; `ecs` adds the Elastic Common Schema encoding. */
  run(buf: Buffer, ecs = false): void {
    this.withEcs = ecs;
    this.stats.packets = this.stats.malformed = 0;
    decodeDatagram(buf, this.pkt, this.onPacket, this.stats, () => undefined);
  }

  private packet(pkt: Packet): void {
    this.packets++;
    checkViews(pkt);
    const rec = this.rec;
    rec.clear();
    for (const i of this.inputs) i.process(pkt, rec);
    this.checkRecord(rec);
    const prefix = rec.get(this.k['oob.prefix']) as string;
    const line = (this.lastLine = this.line.line(rec));
    if (!line.startsWith(prefix)) throw new InvariantError(`kernel line does not start with the prefix: ${JSON.stringify(line)}`);
    if (BAD_LINE.test(line.slice(prefix.length))) throw new InvariantError(`kernel line malformed: ${JSON.stringify(line)}`);
    this.lastJson = this.checkJson(this.json, rec, false);
    if (this.withEcs) this.checkJson(this.ecs, rec, true);
  }

  private checkRecord(rec: Record): void {
    const all = this.keys.all();
    rec.forEachSet((slot, v) => {
      const key = all[slot];
      if (!fits(key.type, v)) throw new InvariantError(`${key.name} (${key.type}) holds ${describe(v)}`);
      if (key.type === 'string' && (v as string).includes('\0') && !key.name.startsWith('pwsniff.')) {
        throw new InvariantError(`${key.name} holds a NUL: ${JSON.stringify(v)}`);
      }
    });
    const k = this.k;
    // Where BASE decoded an IP header (it trusts the family, PWSNIFF the version nibble), both must agree on TCP.
    if ((rec.has(k['pwsniff.user']) || rec.has(k['pwsniff.pass'])) && rec.has(k['ip.saddr'])) {
      const dport = rec.get(k['tcp.dport']) as number | undefined;
      if (dport === undefined || !PWSNIFF_PORTS.has(dport)) {
        throw new InvariantError(`PWSNIFF found a login where BASE decodes no TCP segment to a watched port (tcp.dport ${dport})`);
      }
    }
  }

  /** The last packet's value of a key (undefined when not set). */
  value(name: string): unknown {
    return this.rec.get(this.k[name]);
  }

  private checkJson(enc: JsonEncoder, rec: Record, ecs: boolean): string {
    const out = this.out;
    enc.encode(rec, out);
    const bytes = out.take();
    const text = bytes.toString('utf8');
    out.release(bytes);
    if (!text.endsWith('}\n') || text.indexOf('\n') !== text.length - 1) throw new InvariantError(`JSON line not one line: ${JSON.stringify(text)}`);
    let o: { [name: string]: unknown };
    try {
      o = JSON.parse(text);
    } catch (err) {
      throw new InvariantError(`JSON line does not parse (${(err as Error).message}): ${JSON.stringify(text)}`);
    }
    const ts = o[ecs ? '@timestamp' : 'timestamp'];
    if (typeof ts !== 'string' || !ISO.test(ts)) throw new InvariantError(`JSON timestamp malformed: ${JSON.stringify(ts)}`);
    if (ecs) return text;
    rec.forEachSet((slot, v) => {
      const key = this.keys.all()[slot];
      const got = o[key.name];
      // Strings holding bytes that are not UTF-8 (lone surrogates) are written in a text form of their own.
      const want =
        typeof v === 'number' && key.type !== 'ipv4' && key.type !== 'ipaddr'
          ? v
          : typeof v === 'boolean' || (typeof v === 'string' && v.isWellFormed())
            ? v
            : undefined;
      if (got === undefined || (want !== undefined && got !== want)) {
        throw new InvariantError(`JSON ${key.name} is ${JSON.stringify(got)}, the record holds ${describe(v)}`);
      }
    });
    return text;
  }
}

function fits(type: KeyType, v: unknown): boolean {
  switch (type) {
    case 'u8':
    case 'u16':
    case 'u32':
    case 'ipv4':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX[type]!;
    case 'bool':
      return typeof v === 'boolean';
    case 'ipv6':
      return v instanceof Uint8Array && v.length === 16;
    case 'ipaddr':
      return fits('ipv4', v) || fits('ipv6', v);
    case 'mac':
    case 'raw':
      return v instanceof Uint8Array;
    case 'string':
      return typeof v === 'string';
    default:
      return false;
  }
}

function describe(v: unknown): string {
  return v instanceof Uint8Array ? `bytes ${Buffer.from(v).toString('hex')}` : `${typeof v} ${String(v)}`;
}

/** Every byte view the codec set lies inside the datagram. */
function checkViews(p: Packet): void {
  const n = p.buf.length;
  const views: Array<[string, number, number]> = [
    ['hwaddr', p.hwAddrOff, p.hwAddrLen],
    ['hwheader', p.hwHeaderOff, p.hwHeaderLen],
    ['payload', p.payloadOff, p.payloadLen],
    ['prefix', p.prefixOff, p.prefixLen],
    ['l2hdr', p.l2HdrOff, p.l2HdrLen],
    ['ct', p.ctOff, p.ctLen],
  ];
  for (const [name, off, len] of views) {
    if (len !== -1 && (len < 0 || off < 0 || off + len > n)) throw new InvariantError(`codec ${name} view ${off}+${len} outside the ${n}-byte datagram`);
  }
}
