/**
 * ECS fields derived from flow records (source NFCT): the original direction
 * is source and destination (mapped in ecs.ts), and from both directions come
 * the NAT (`source.nat.*` when the reply goes to another address or port than
 * the client's, `destination.nat.*` when it comes from another than the one
 * the client asked for), the totals `network.packets` and `network.bytes`,
 * the flow's `event.start`, `event.end` and `event.duration`, and
 * `event.type` "start" or "end" for new and destroyed connections.
 */
import { ipToString, type Key, type Record, type TextBuffer } from 'specter/plugin';

const ascii = (s: string) => Buffer.from(s, 'latin1');
const EVENT_HEAD = (type: string) => ascii(`,"event.kind":"event","event.category":["network"],"event.type":[${type}]`);
const HEADS: { [event: number]: Buffer } = { 1: EVENT_HEAD('"connection","start"'), 4: EVENT_HEAD('"connection","end"') };
const HEAD = EVENT_HEAD('"connection"');

type Optional = (name: string) => Key | undefined;

export class EcsFlow {
  private readonly k: { [name: string]: Key | undefined };

  /** The flow fields when the record's keys are a flow's (ct.event among them), else null. */
  static create(optional: Optional): EcsFlow | null {
    return optional('ct.event') ? new EcsFlow(optional) : null;
  }

  private constructor(optional: Optional) {
    this.k = {};
    for (const n of [
      'ct.event',
      'orig.ip.saddr',
      'orig.ip.daddr',
      'orig.l4.sport',
      'orig.l4.dport',
      'reply.ip.saddr',
      'reply.ip.daddr',
      'reply.l4.sport',
      'reply.l4.dport',
      'orig.raw.pktcount',
      'orig.raw.pktlen',
      'reply.raw.pktcount',
      'reply.raw.pktlen',
      'flow.start.sec',
      'flow.start.usec',
      'flow.end.sec',
      'flow.end.usec',
    ])
      this.k[n] = optional(n);
  }

  /** Milliseconds since the epoch of the record: its end, else its start; undefined when it has neither. */
  time(rec: Record): number | undefined {
    return this.ms(rec, 'flow.end') ?? this.ms(rec, 'flow.start');
  }

  /** `,"event.kind":...,"event.type":[...]` for the record's event. */
  eventHead(rec: Record): Buffer {
    const e = this.get(rec, 'ct.event');
    return (e !== undefined && HEADS[e as number]) || HEAD;
  }

  /** Appends the derived fields; `iso` writes a time as the encoder's timestamps are written. */
  write(rec: Record, out: TextBuffer, iso: (ms: number) => string): void {
    let s = '';
    const origSrc = this.get(rec, 'orig.ip.saddr');
    const replyDst = this.get(rec, 'reply.ip.daddr');
    const origSport = this.get(rec, 'orig.l4.sport');
    const replyDport = this.get(rec, 'reply.l4.dport');
    // The reply goes back to the translated source: SNAT when it is not the client.
    if (replyDst !== undefined && origSrc !== undefined && (!sameAddr(replyDst, origSrc) || (replyDport !== undefined && replyDport !== origSport))) {
      s += `,"source.nat.ip":"${ipToString(replyDst as number | Uint8Array)}"`;
      if (replyDport !== undefined) s += `,"source.nat.port":${replyDport}`;
    }
    const origDst = this.get(rec, 'orig.ip.daddr');
    const replySrc = this.get(rec, 'reply.ip.saddr');
    const origDport = this.get(rec, 'orig.l4.dport');
    const replySport = this.get(rec, 'reply.l4.sport');
    // The reply comes from the real destination: DNAT when it is not the one asked for.
    if (replySrc !== undefined && origDst !== undefined && (!sameAddr(replySrc, origDst) || (replySport !== undefined && replySport !== origDport))) {
      s += `,"destination.nat.ip":"${ipToString(replySrc as number | Uint8Array)}"`;
      if (replySport !== undefined) s += `,"destination.nat.port":${replySport}`;
    }
    const op = this.get(rec, 'orig.raw.pktcount');
    const rp = this.get(rec, 'reply.raw.pktcount');
    if (op !== undefined || rp !== undefined) s += `,"network.packets":${Number(op ?? 0n) + Number(rp ?? 0n)}`;
    const ob = this.get(rec, 'orig.raw.pktlen');
    const rb = this.get(rec, 'reply.raw.pktlen');
    if (ob !== undefined || rb !== undefined) s += `,"network.bytes":${Number(ob ?? 0n) + Number(rb ?? 0n)}`;
    const start = this.ms(rec, 'flow.start');
    const end = this.ms(rec, 'flow.end');
    if (start !== undefined) s += `,"event.start":"${iso(start)}"`;
    if (end !== undefined) s += `,"event.end":"${iso(end)}"`;
    if (start !== undefined && end !== undefined && end >= start) s += `,"event.duration":${Math.round((end - start) * 1e6)}`;
    out.reserve(s.length);
    out.latin1(s);
  }

  private get(rec: Record, name: string): unknown {
    const key = this.k[name];
    return key && rec.present[key.slot] === 1 ? rec.values[key.slot] : undefined;
  }

  private ms(rec: Record, prefix: 'flow.start' | 'flow.end'): number | undefined {
    const sec = this.get(rec, `${prefix}.sec`);
    if (sec === undefined) return undefined;
    const usec = this.get(rec, `${prefix}.usec`);
    return (sec as number) * 1000 + ((usec as number | undefined) ?? 0) / 1000;
  }
}

function sameAddr(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' || typeof b === 'number') return a === b;
  const x = a as Uint8Array;
  const y = b as Uint8Array;
  if (x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}
