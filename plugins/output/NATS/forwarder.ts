/**
 * The NATS output's running part. The records of a batch are encoded
 * (record-codec.ts) into messages of up to 64 KiB, each a frame of the spool,
 * appended at the end of the batch; a publisher reads the spool in order and
 * publishes each message to JetStream with Nats-Msg-Id = sensor:first seq
 * (a message's bounds are fixed in the spool, so a message sent again has
 * the same id), at most `natsinflight` messages at a time, each with a
 * reply subject of this output's inbox that JetStream answers with its
 * PubAck (the JetStream publish protocol, without a promise, a timer and two
 * Error objects per record as the client's request() makes). A record leaves
 * the spool when its PubAck came and every record before it was acknowledged.
 * A failed publish (no server, no stream, a full stream, a timeout) rewinds
 * the publisher to the first unacknowledged record and retries after a
 * growing pause; what was sent twice is stored once (the stream's duplicate
 * window). A record leaves the spool with its message.
 *
 * HighWater/LowWater: when the spool holds `highwater` bytes, records go to
 * the `dropto` output (or are counted as dropped) until it is back under
 * `lowwater`. Every record is in exactly one place: the stream, the spool,
 * the drop output or the dropped counter.
 */
import fs from 'node:fs';
import path from 'node:path';
import { connect, createInbox, headers, PermissionViolationError, type ConnectionOptions, type Msg, type NatsConnection } from '@nats-io/transport-node';
import { Backoff, CommitQueue, ErrorReporter, type Key, type OutputContext, type OutputInstance, type Record } from 'specter/plugin';
import { connectFailure, connectionOptions, type NatsConnectionValues } from '../../shared/forward/nats-options.js';
import { ByteWriter, firstSeq, DERIVED_OMITTED, MAX_RECORDS, RecordEncoder, recordCount } from '../../shared/forward/record-codec.js';
import type { Sequence } from './sequence.js';
import { FRAME_HEADER, sealFrame, type Spool } from './spool.js';

/** A message is closed past this size (NATS servers take 1 MiB by default). */
const MESSAGE_BYTES = 64 * 1024;
/**
 * Batches are gathered for up to this long (or a message's size) before they
 * go to the spool in one write: fewer, fuller messages and writes at high
 * rates. A kill -9 can cost these milliseconds, as it costs what waits in
 * the netlink socket; records settle only after the spool's fsync anyway.
 */
const GATHER_MS = 10;

export interface ForwarderSettings {
  subject: string;
  inflight: number;
  timeoutMs: number;
  syncMs: number;
  highwater: number;
  lowwater: number;
  /** The keys made from the packet bytes are left out of the records, for the collector to make. */
  derivedOmitted: boolean;
}

/** The output's context, with the connection options it reads. */
export type ForwarderContext = Omit<OutputContext, 'options'> & { readonly options: NatsConnectionValues };

/** Where diverted records go: another output of the group, fed only by this one. */
export interface DropTarget {
  write(rec: Record): void;
  endBatch(): void;
}

export class Forwarder implements OutputInstance {
  private nc: NatsConnection | null = null;
  /** Reply subjects are `<inbox>.<gen>.<index in the queue>`. */
  private inbox: string | null = null;
  private readonly w = new ByteWriter(256 * 1024);
  private readonly encoder: RecordEncoder;
  private readonly commits: CommitQueue;
  /** Records encoded into `w` this batch in closed messages, where the open message starts, and spool tickets waiting for an fsync. */
  private batched = 0;
  private messageStart = 0;
  private readonly unsynced: number[] = [];
  private divertedThisBatch = 0;
  private diverting = false;
  private episodeCount = 0;
  /** Publishing: a generation per rewind, so answers to older publishes are ignored. */
  private gen = 0;
  private outstanding = 0;
  private readonly qSeg: number[] = [];
  private readonly qEnd: number[] = [];
  /** Records in each message. */
  private readonly qCount: number[] = [];
  private readonly qDone: boolean[] = [];
  /** When each record was published (ms), for the acknowledgement timeout. */
  private readonly qTime: number[] = [];
  private qHead = 0;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly backoff = new Backoff();
  private retryTimer: NodeJS.Timeout | null = null;
  /**
   * Connected now. While the client reconnects it would keep what is published in its own buffer and send it
   * all when the server is back, every retry's copy of the spool ahead of the current one: nothing is
   * published meanwhile.
   */
  private linkUp = false;
  private gatherTimer: NodeJS.Timeout | null = null;
  private connectTimer: NodeJS.Timeout | null = null;
  private syncTimer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  private closed = false;
  /** Shutting down: no new publishes, the backlog waits in the spool for the next start. */
  private flushing = false;
  /** JetStream not acknowledging: a line when it starts, at most one a minute while it lasts, one when it ends. */
  private readonly failures: ErrorReporter;
  private idle: (() => void) | null = null;

  constructor(
    private readonly ctx: ForwarderContext,
    private readonly s: ForwarderSettings,
    private readonly spool: Spool,
    private readonly seq: Sequence,
    keys: readonly Key[],
    slots: number,
    private readonly sensor: string,
    private readonly drop: DropTarget | null,
  ) {
    this.encoder = new RecordEncoder(keys, slots, sensor, ctx.group, s.derivedOmitted ? DERIVED_OMITTED : 0);
    this.commits = new CommitQueue((n) => ctx.commit(n));
    this.failures = new ErrorReporter(ctx.log, { level: 'warn' });
    const c = ctx.counters.extra;
    for (const name of ['diverted', 'spool_bytes', 'torn', 'republished', 'duplicates']) c[name] = 0;
    c.torn = spool.torn;
    c.spool_bytes = spool.bytes;
  }

  async start(): Promise<void> {
    const opts = connectionOptions(this.ctx.options, `specter ${this.sensor} group ${this.ctx.group}`, this.ctx.fail);
    this.syncTimer = setInterval(() => void this.syncSpool(), this.s.syncMs);
    // The server may be down at start, or refuse us: the spool takes records meanwhile.
    void this.connectUntilConnected(opts);
  }

  /** Tries to connect until it succeeds (or the output closes), logging each new reason of failure once. */
  private async connectUntilConnected(opts: ConnectionOptions): Promise<void> {
    const backoff = new Backoff(1000, 5000);
    let said = '';
    while (!this.closed) {
      let nc: NatsConnection;
      try {
        nc = await connect(opts);
      } catch (err) {
        const why = await connectFailure(opts, err as Error);
        if (why !== said && !this.closed) {
          said = why;
          this.ctx.log.error(`${this.ctx.name}: cannot connect to NATS at ${this.ctx.options.natsurl}: ${why}; spooling in ${this.spool.dir} and trying again`);
        }
        await new Promise((r) => {
          this.connectTimer = setTimeout(r, backoff.next());
        });
        continue;
      }
      if (this.closed) {
        void nc.close();
        return;
      }
      this.connected(nc);
      return;
    }
  }

  private connected(nc: NatsConnection): void {
    this.nc = nc;
    this.linkUp = true;
    this.inbox = createInbox();
    nc.subscribe(`${this.inbox}.*.*`, {
      callback: (err, msg) => {
        if (!err) this.answer(msg);
      },
    });
    this.sweepTimer = setInterval(() => this.sweep(), Math.min(500, this.s.timeoutMs / 4));
    this.ctx.log.info(`${this.ctx.name}: connected to ${nc.getServer()}`);
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'disconnect') {
          this.linkUp = false;
          this.ctx.log.warn(`${this.ctx.name}: disconnected from NATS; spooling`);
          // What was in flight is sent again after the reconnection (the stream drops what it already has).
          if (this.outstanding > 0) this.failed('disconnected');
          else this.ctx.counters.errors++;
        } else if (st.type === 'reconnect') {
          this.linkUp = true;
          this.ctx.log.info(`${this.ctx.name}: reconnected to NATS`);
          this.retryNow();
        } else if (st.type === 'error') this.serverError(st.error);
      }
    })();
    this.pump();
  }

  /** An -ERR of the server: a publish it refuses fails the publishes in flight at once, without waiting for their timeout. */
  private serverError(err: Error): void {
    if (err instanceof PermissionViolationError && err.operation === 'publish' && err.subject === this.s.subject) {
      if (this.outstanding > 0) this.failed(`${err.message}: the server does not let this user publish on its subject`);
    } else {
      this.failures.failure(`${this.ctx.name}: the NATS server says: ${err.message}`);
    }
  }

  /** After the privilege drop (-u): the spool's directories must be the user's to write in (new segments, acked, sequence). */
  async ready(): Promise<void> {
    for (const dir of [this.spool.dir, path.dirname(this.spool.dir)]) {
      try {
        fs.accessSync(dir, fs.constants.W_OK);
      } catch {
        throw new Error(`the spool directory ${dir} is not writable by the user the daemon runs as (give it to that user)`);
      }
    }
  }

  write(rec: Record): void {
    if (this.overHighWater()) {
      this.divert(rec);
      return;
    }
    const w = this.w;
    const enc = this.encoder;
    if (!enc.open) {
      w.ensure(FRAME_HEADER);
      this.messageStart = w.pos;
      w.pos += FRAME_HEADER;
      enc.begin(w);
    }
    enc.add(rec);
    if (w.pos - this.messageStart >= MESSAGE_BYTES || enc.records === MAX_RECORDS) this.closeMessage();
  }

  /** Numbers the open message's records (consecutive, so the message's first number names them all) and seals its frame. */
  private closeMessage(): void {
    const n = this.encoder.records;
    this.encoder.end(this.seq.take(n));
    sealFrame(this.w.buf, this.messageStart, this.w.pos);
    this.batched += n;
  }

  endBatch(): void {
    if (this.w.pos >= MESSAGE_BYTES) this.appendBatch();
    else if (this.encoder.open && !this.gatherTimer) this.gatherTimer = setTimeout(this.gathered, GATHER_MS);
    if (this.divertedThisBatch) {
      this.divertedThisBatch = 0;
      try {
        this.drop?.endBatch();
      } catch (err) {
        this.ctx.log.error({ err }, `${this.ctx.name}: the drop output failed`);
      }
    }
    this.pump();
  }

  /** True while records go to the drop output instead of the spool (from highwater down to lowwater). */
  private overHighWater(): boolean {
    const bytes = this.spool.bytes + this.w.pos;
    if (!this.diverting && bytes >= this.s.highwater) {
      // Records before this one go to the spool, in order, before any is diverted.
      this.appendBatch();
      this.diverting = true;
      this.episodeCount = 0;
      this.ctx.log.warn(
        `${this.ctx.name}: the spool reached highwater (${bytes} bytes); records go to ${this.drop ? 'the drop output' : 'the dropped counter'} until it is under lowwater (${this.s.lowwater} bytes)`,
      );
    } else {
      this.underLowWater();
    }
    return this.diverting;
  }

  /** Ends a diverting episode once the spool is under lowwater (checked on writes and as acknowledgements empty it). */
  private underLowWater(): void {
    if (!this.diverting || this.spool.bytes + this.w.pos >= this.s.lowwater) return;
    this.diverting = false;
    this.ctx.log.warn(
      `${this.ctx.name}: the spool is under lowwater again; ${this.episodeCount} records were ${this.drop ? 'diverted to the drop output' : 'dropped'} meanwhile`,
    );
  }

  private divert(rec: Record): void {
    this.episodeCount++;
    if (this.drop) {
      try {
        this.drop.write(rec);
        this.ctx.counters.extra.diverted++;
        this.divertedThisBatch++;
      } catch (err) {
        this.ctx.counters.dropped++;
        this.ctx.log.error({ err }, `${this.ctx.name}: the drop output refused a record`);
      }
    } else {
      this.ctx.counters.dropped++;
    }
    // Settled here: it is in the drop output's hands or counted.
    this.commits.now(1);
  }

  private readonly gathered = () => {
    this.gatherTimer = null;
    this.appendBatch();
    this.pump();
  };

  /** Appends the records encoded so far to the spool; they are settled once an fsync covers them. */
  private appendBatch(): void {
    if (this.gatherTimer) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = null;
    }
    if (this.encoder.open) this.closeMessage();
    if (this.batched === 0) return;
    const n = this.batched;
    this.batched = 0;
    try {
      this.spool.append(this.w.buf, this.w.pos);
      this.unsynced.push(this.commits.hold(n));
    } catch (err) {
      this.ctx.counters.dropped += n;
      this.commits.now(n);
      this.ctx.log.error(`${this.ctx.name}: cannot write to the spool in ${this.spool.dir}, ${n} records dropped: ${(err as Error).message}`);
    }
    this.w.pos = 0;
    this.ctx.counters.extra.spool_bytes = this.spool.bytes;
  }

  private syncSpool(): Promise<void> {
    if (this.syncing) return this.syncing;
    const tickets = this.unsynced.splice(0);
    this.spool.saveAcked();
    const p = this.spool
      .sync()
      .then(
        () => {
          for (const t of tickets) this.commits.settle(t);
        },
        (err: Error) => {
          // The records stay in the spool's file; only their durability against power loss is in doubt.
          for (const t of tickets) this.commits.settle(t);
          this.ctx.counters.errors++;
          this.ctx.log.error(`${this.ctx.name}: fsync of the spool failed: ${err.message}`);
        },
      )
      .finally(() => {
        this.syncing = null;
      });
    this.syncing = p;
    return p;
  }

  /** Publishes spooled records while there is room in flight. */
  private pump(): void {
    const nc = this.nc;
    if (!nc || !this.linkUp || !this.inbox || this.retryTimer || this.closed || this.flushing) return;
    const now = Date.now();
    while (this.outstanding < this.s.inflight && this.spool.hasUnread()) {
      const batch = this.spool.readNext(this.s.inflight - this.outstanding);
      if (!batch) break;
      const prefix = `${this.inbox}.${this.gen}.`;
      for (let i = 0; i < batch.starts.length; i++) {
        const start = batch.starts[i];
        const idx = this.qSeg.length;
        this.qSeg.push(batch.seg);
        this.qEnd.push(batch.ends[i]);
        this.qCount.push(recordCount(batch.buf, start));
        this.qDone.push(false);
        this.qTime.push(now);
        const len = batch.buf.readUInt32LE(start - FRAME_HEADER);
        const h = headers();
        h.set('Nats-Msg-Id', `${this.sensor}:${firstSeq(batch.buf, start)}`);
        this.outstanding++;
        nc.publish(this.s.subject, batch.buf.subarray(start, start + len), { reply: prefix + idx, headers: h });
      }
    }
  }

  /** JetStream's answer to one publish: a PubAck, an API error, or a status (503: no stream, no responders). */
  private answer(msg: Msg): void {
    const subj = msg.subject;
    const last = subj.lastIndexOf('.');
    const prev = subj.lastIndexOf('.', last - 1);
    if (Number(subj.slice(prev + 1, last)) !== this.gen) return;
    const idx = Number(subj.slice(last + 1));
    if (!(idx >= this.qHead && idx < this.qDone.length) || this.qDone[idx]) return;
    if (msg.headers?.hasError) {
      this.failed(`${msg.headers.code} ${msg.headers.description || 'no stream answers on the subject'}`);
      return;
    }
    const text = Buffer.from(msg.data.buffer, msg.data.byteOffset, msg.data.byteLength).toString('latin1');
    if (!text.startsWith('{"stream"')) {
      const m = /"description"\s*:\s*"([^"]*)"/.exec(text);
      this.failed(m ? m[1] : `unexpected answer ${text.slice(0, 80)}`);
      return;
    }
    this.acked(idx, text.includes('"duplicate":true'));
  }

  /** A publish not acknowledged within natstimeout fails like a refused one. */
  private sweep(): void {
    if (this.outstanding === 0) return;
    let h = this.qHead;
    while (h < this.qDone.length && this.qDone[h]) h++;
    if (h < this.qDone.length && Date.now() - this.qTime[h] > this.s.timeoutMs) this.failed(`no acknowledgement within ${this.s.timeoutMs} ms`);
  }

  private acked(idx: number, duplicate: boolean): void {
    this.outstanding--;
    this.qDone[idx] = true;
    this.ctx.counters.sent += this.qCount[idx];
    if (duplicate) this.ctx.counters.extra.duplicates += this.qCount[idx];
    if (this.failures.failing) {
      this.backoff.reset();
      this.failures.recovered(`${this.ctx.name}: JetStream acknowledges again`);
    }
    let h = this.qHead;
    while (h < this.qDone.length && this.qDone[h]) h++;
    if (h > this.qHead) {
      this.spool.ack(this.qSeg[h - 1], this.qEnd[h - 1]);
      this.qHead = h;
      if (h === this.qDone.length) this.clearQueue();
      this.ctx.counters.extra.spool_bytes = this.spool.bytes;
      this.underLowWater();
    }
    this.afterAnswer();
  }

  private clearQueue(): void {
    this.qSeg.length = this.qEnd.length = this.qCount.length = this.qDone.length = this.qTime.length = this.qHead = 0;
  }

  private failed(why: string): void {
    // Everything after the last acknowledged record is sent again, in order; answers to this generation are ignored.
    this.gen++;
    this.ctx.counters.errors++;
    for (let i = this.qHead; i < this.qCount.length; i++) this.ctx.counters.extra.republished += this.qCount[i];
    this.outstanding = 0;
    this.clearQueue();
    this.spool.rewind();
    this.failures.failure(`${this.ctx.name}: JetStream did not acknowledge (${why}); spooling and retrying`);
    if (!this.retryTimer && !this.closed) this.retryTimer = setTimeout(() => this.retryNow(), this.backoff.next());
    this.afterAnswer();
  }

  private retryNow(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    this.pump();
  }

  private afterAnswer(): void {
    if (this.outstanding === 0 && this.idle) this.idle();
    this.pump();
  }

  /** Spools and fsyncs what was accepted, and waits for the publishes in flight (bounded by their timeout). */
  async flush(): Promise<void> {
    this.flushing = true;
    this.appendBatch();
    await this.syncSpool();
    if (this.outstanding > 0)
      await new Promise<void>((r) => {
        this.idle = r;
      });
    this.idle = null;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.syncTimer) clearInterval(this.syncTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.connectTimer) clearTimeout(this.connectTimer);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.appendBatch();
    try {
      this.spool.close();
    } catch (err) {
      this.ctx.log.error(`${this.ctx.name}: closing the spool: ${(err as Error).message}`);
    }
    // What is spooled waits there for the next start: settled as far as this run goes.
    this.commits.settleAll();
    this.idle?.();
    const nc = this.nc;
    this.nc = null;
    await nc?.close().catch(() => undefined);
  }
}
