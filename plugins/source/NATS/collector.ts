/**
 * The collector's reading side: a durable pull consumer on the stream,
 * fetched in batches no larger than what the outputs have room for (the
 * records delivered and not yet settled stay under `natsmaxpending`, and
 * nothing is fetched while an output is busy), so a slow or absent database
 * leaves the backlog in JetStream, not in memory.
 *
 * Each message (a run of one sensor's records) is checked whole, then its
 * records are decoded into the group's record (record-codec.ts) and
 * delivered to every output. It is acknowledged once every output has
 * settled all its records (the pipeline's committed count); a message the collector
 * already holds or acknowledged that comes again (ack_wait passed, an
 * acknowledgement lost) is not delivered twice. A message that is no
 * specter record is counted, logged once per subject and terminated.
 */
import { jetstream, jetstreamManager, type Consumer, type JsMsg } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { Counters, type Key, type SourceContext, type SourceInstance, type RecordSink } from 'specter/plugin';
import { connectFailure, connectionOptions, type NatsConnectionValues } from '../../shared/forward/nats-options.js';
import { RecordDecoder, RecordFormatError } from '../../shared/forward/record-codec.js';
import { DerivedKeys } from '../../shared/packet/derived.js';
import { ensureConsumer, ensureStream, type StreamSettings } from './stream.js';

export interface CollectorSettings extends StreamSettings {
  durable: string;
  batch: number;
  maxPending: number;
  ackWaitS: number;
}

/** The source's context, with the connection options it reads. */
export type CollectorContext = Omit<SourceContext, 'options'> & { readonly options: NatsConnectionValues };

/** Stream sequences acknowledged lately, for spotting a message that comes again after its acknowledgement. */
const RECENT = 1 << 16;

export class Collector implements SourceInstance {
  readonly name: string;
  readonly counters = new Counters();
  private nc: NatsConnection | null = null;
  private sink: RecordSink | null = null;
  private readonly decoder: RecordDecoder;
  private readonly sensorName: Key | null;
  private readonly sensorSeq: Key | null;
  private readonly sensorGroup: Key | null;
  /** Delivered messages not yet acknowledged, in delivery order, from `head`, and their records. */
  private pending: (JsMsg | null)[] = [];
  private pendingRecords: number[] = [];
  private head = 0;
  /** The pipeline's committed count when this source started, records delivered and acknowledged by it. */
  private base = 0;
  private delivered = 0;
  private acked = 0;
  /** Records delivered since the last endBatch(), and records per message lately (to size fetches in messages). */
  private inBatch = 0;
  // A guess until messages come: a first fetch of large messages stays near natsmaxpending records.
  private perMessage = 100;
  private readonly holding = new Set<number>();
  private readonly recent = new Set<number>();
  private readonly recentRing = new Float64Array(RECENT);
  private recentAt = 0;
  private readonly garbageSubjects = new Set<string>();
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  private failLogged = false;

  constructor(
    private readonly ctx: CollectorContext,
    private readonly s: CollectorSettings,
    private readonly log: Logger,
  ) {
    this.name = `NATS ${s.stream}/${s.durable}`;
    this.decoder = new RecordDecoder(
      (name) => {
        const produced = ctx.want(name);
        return produced ?? (ctx.known(name) ? null : undefined);
      },
      // The derived keys the outputs read, for messages whose sensor left them to the collector.
      new DerivedKeys((name) => ctx.want(name)?.slot ?? -1),
    );
    this.sensorName = ctx.want('sensor.name');
    this.sensorSeq = ctx.want('sensor.seq');
    this.sensorGroup = ctx.want('sensor.group');
    for (const c of ['garbage', 'redelivered', 'unknown_keys', 'type_mismatches']) this.counters.extra[c] = 0;
  }

  async start(sink: RecordSink): Promise<void> {
    this.sink = sink;
    this.base = sink.committed();
    const opts = connectionOptions(this.ctx.options, `specter collector ${this.ctx.sensor} ${this.s.durable}`, this.ctx.fail);
    // At start the server must answer: the stream and the consumer are created or checked now.
    let nc: NatsConnection;
    try {
      nc = await connect(opts);
    } catch (err) {
      throw new Error(`cannot connect to NATS at ${this.ctx.options.natsurl}: ${await connectFailure(opts, err as Error)}`);
    }
    this.nc = nc;
    try {
      const jsm = await jetstreamManager(nc);
      await ensureStream(jsm, this.s);
      await ensureConsumer(jsm, this.s, this.s.durable, this.s.ackWaitS, this.s.maxPending);
    } catch (err) {
      await nc.close();
      throw err;
    }
    const consumer = await jetstream(nc).consumers.get(this.s.stream, this.s.durable);
    sink.onCommit((n) => this.committed(n));
    this.loop = this.run(consumer);
  }

  private async run(consumer: Consumer): Promise<void> {
    const sink = this.sink!;
    while (!this.stopping) {
      const open = this.delivered - this.acked;
      const room = this.s.maxPending - open;
      if (room < this.s.maxPending / 2 || sink.busy()) {
        await this.pause(50);
        continue;
      }
      try {
        const max = Math.max(1, Math.min(this.s.batch, Math.floor(room / this.perMessage)));
        const msgs = await consumer.fetch({ max_messages: max, expires: 1000 });
        for await (const m of msgs) this.take(m);
        if (this.inBatch) {
          this.inBatch = 0;
          sink.endBatch();
        }
        if (this.failLogged) {
          this.failLogged = false;
          this.log.info(`${this.name}: reading again`);
        }
      } catch (err) {
        if (this.stopping) break;
        this.counters.errors++;
        if (!this.failLogged) {
          this.failLogged = true;
          this.log.warn(`${this.name}: cannot fetch (${(err as Error).message}); retrying`);
        }
        await this.pause(1000);
      }
    }
  }

  /** Checks one message and delivers its records. */
  private take(m: JsMsg): void {
    this.counters.received++;
    const sseq = m.seq;
    if (this.holding.has(sseq) || this.recent.has(sseq)) {
      // Delivered before: it is acknowledged with the first copy (or was already).
      this.counters.extra.redelivered++;
      if (this.recent.has(sseq)) m.ack();
      return;
    }
    const sink = this.sink!;
    const rec = sink.record;
    const d = this.decoder;
    const unknown = d.unknownKeys;
    const mismatched = d.typeMismatches;
    let records: number;
    try {
      records = d.open(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
    } catch (err) {
      if (!(err instanceof RecordFormatError)) throw err;
      this.counters.extra.garbage++;
      if (!this.garbageSubjects.has(m.subject) && this.garbageSubjects.size < 1000) {
        this.garbageSubjects.add(m.subject);
        this.log.warn(`${this.name}: a message on ${m.subject} is not a specter record (${err.message}); terminated, not redelivered`);
      }
      m.term(err.message);
      return;
    }
    this.pending.push(m);
    this.pendingRecords.push(records);
    this.holding.add(sseq);
    this.perMessage = this.perMessage * 0.9 + records * 0.1;
    while (d.next(rec)) {
      if (this.sensorName) rec.set(this.sensorName, d.sensor);
      if (this.sensorSeq) rec.set(this.sensorSeq, BigInt(d.seq));
      if (this.sensorGroup) rec.set(this.sensorGroup, d.group);
      sink.deliver();
      this.delivered++;
      this.counters.sent++;
      if (++this.inBatch === 256) {
        this.inBatch = 0;
        sink.endBatch();
      }
    }
    if (d.unknownKeys !== unknown) this.counters.extra.unknown_keys += d.unknownKeys - unknown;
    if (d.typeMismatches !== mismatched) this.counters.extra.type_mismatches += d.typeMismatches - mismatched;
  }

  /** The outputs settled `n` records of the group in all: acknowledge the messages whose records are all settled. */
  private committed(n: number): void {
    const target = n - this.base;
    while (this.head < this.pending.length && this.acked + this.pendingRecords[this.head] <= target) {
      this.acked += this.pendingRecords[this.head];
      const m = this.pending[this.head]!;
      // An acknowledged message lets go of its bytes now, not at the next compaction.
      this.pending[this.head++] = null;
      m.ack();
      this.holding.delete(m.seq);
      const old = this.recentRing[this.recentAt];
      if (old) this.recent.delete(old);
      this.recentRing[this.recentAt] = m.seq;
      this.recentAt = (this.recentAt + 1) % RECENT;
      this.recent.add(m.seq);
    }
    if (this.head > 4096 && this.head * 2 > this.pending.length) {
      this.pending = this.pending.slice(this.head);
      this.pendingRecords = this.pendingRecords.slice(this.head);
      this.head = 0;
    }
    this.wake?.();
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = null;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  /** Stops fetching; acknowledges what the outputs settle within `maxMs` (at most 5 s); the rest is redelivered later. */
  async stop(maxMs = 5000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wake?.();
    await this.loop?.catch(() => undefined);
    const until = Date.now() + Math.min(maxMs, 5000);
    while (this.head < this.pending.length && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    const nc = this.nc;
    this.nc = null;
    await nc?.drain().catch(() => undefined);
  }
}
