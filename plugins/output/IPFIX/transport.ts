/**
 * Sends IPFIX messages to one collector over UDP or TCP, in order, and keeps
 * the stream valid for it:
 * - every message is stamped as it leaves with the export time and the
 *   sequence number (data records sent before it in this transport session);
 * - UDP: the templates go before the first message and again whenever
 *   `refreshMs` passed or `refreshMessages` data messages went since they
 *   last did, so a collector started later learns them;
 * - TCP: each connection is a new session: it starts with the templates and
 *   with sequence number 0; a lost connection is retried with back-off.
 * Messages wait in a queue bounded in bytes while the collector is away or
 * slow; what does not fit is counted as dropped. `sent` counts records the
 * kernel took, `dropped` those it did not (a full queue, a failed send, a
 * connection closed with them, close() before they left).
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { Backoff, type Counters, ErrorReporter } from 'specter/plugin';
import { type Message, stamp, templateMessage } from './message.js';

export interface TransportOptions {
  host: string;
  port: number;
  proto: 'udp' | 'tcp';
  domain: number;
  templates: Buffer;
  maxBytes: number;
  refreshMs: number;
  /** 0: no refresh by count. */
  refreshMessages: number;
}

interface Queued {
  msg: Message;
  /** Settles the message's records in the output's commit order (sent or dropped). */
  done: () => void;
}

export class IpfixTransport {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  /** Handed to the socket, waiting for its callback. */
  private inflight = new Set<Queued>();
  private udp: dgram.Socket | null = null;
  private tcp: net.Socket | null = null;
  private ready = false;
  private sequence = 0;
  private templatesAt = -Infinity;
  private messagesSinceTemplates = 0;
  /** Reconnection waits: 100 ms doubling to 5 s. */
  private readonly backoff = new Backoff(100, 5000);
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  /** The collector failing: logged when it starts, now and then while it lasts, and when it ends. */
  private readonly failures: ErrorReporter;
  private readonly drops: ErrorReporter;
  private readonly dropLine = () => `queue for ${this.describe()} is full: dropping flow records (${this.counters.dropped} so far)`;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly o: TransportOptions,
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {
    this.failures = new ErrorReporter(log);
    this.drops = new ErrorReporter(log, { level: 'warn' });
  }

  /** Bytes waiting to be handed to the socket. */
  get waitingBytes(): number {
    return this.queuedBytes;
  }

  start(): void {
    if (this.o.proto === 'udp') this.openUdp();
    else this.connectTcp();
  }

  /** Queues a message; `done` runs once its records are sent or counted as dropped. */
  send(msg: Message, done: () => void): void {
    if (this.closing || (this.queuedBytes > 0 && this.queuedBytes + msg.data.length > this.o.maxBytes)) {
      this.counters.dropped += msg.records;
      this.drops.failure(this.dropLine);
      done();
      return;
    }
    this.queue.push({ msg, done });
    this.queuedBytes += msg.data.length;
    this.drain();
  }

  /** Resolves when the kernel has every queued message (or close() counted what it had not as dropped). */
  flush(): Promise<void> {
    if (this.idle()) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Counts what has not left as dropped (one line) and closes; never waits. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    const left = [...this.inflight, ...this.queue];
    this.inflight.clear();
    this.queue = [];
    this.queuedBytes = 0;
    const records = left.reduce((n, q) => n + q.msg.records, 0);
    if (records > 0) {
      this.counters.dropped += records;
      this.log.warn(`${records} flow records for ${this.describe()} could not be sent before exit`);
    }
    for (const q of left) q.done();
    this.wake();
    if (this.tcp) {
      if (left.length) this.tcp.destroy();
      else this.tcp.end();
    }
    this.udp?.close();
  }

  private describe(): string {
    return `${this.o.proto}:${this.o.host}:${this.o.port}`;
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inflight.size === 0;
  }

  private openUdp(): void {
    const sock = dgram.createSocket(net.isIPv6(this.o.host) ? 'udp6' : 'udp4');
    this.udp = sock;
    sock.on('error', (err) => {
      this.problem(err);
      // The host did not resolve: try again later with a new socket.
      if (!this.ready && !this.closing) {
        sock.close();
        this.timer = setTimeout(() => this.openUdp(), this.backoff.next());
      }
    });
    // A connected socket resolves the host once and hears the collector's port-unreachable errors.
    sock.connect(this.o.port, this.o.host, () => {
      this.ready = true;
      this.backoff.reset();
      this.drain();
    });
  }

  private connectTcp(): void {
    const sock = net.createConnection(this.o.port, this.o.host);
    sock.setNoDelay(true);
    this.tcp = sock;
    sock.on('connect', () => {
      this.ready = true;
      this.backoff.reset();
      this.failures.recovered(`IPFIX collector ${this.describe()}: connected again`);
      // A new connection is a new transport session: templates first, sequence numbers from 0.
      this.sequence = 0;
      this.templatesAt = -Infinity;
      this.drain();
    });
    sock.on('drain', () => this.drain());
    sock.on('error', (err) => this.problem(err));
    sock.on('close', () => {
      this.ready = false;
      this.tcp = null;
      // Messages the closed socket still held are lost with it.
      const lost = [...this.inflight];
      this.inflight.clear();
      for (const q of lost) {
        this.counters.dropped += q.msg.records;
        q.done();
      }
      if (!this.closing) {
        this.timer = setTimeout(() => this.connectTcp(), this.backoff.next());
      }
      this.wake();
    });
  }

  private problem(err: Error): void {
    this.counters.errors++;
    this.failures.failure(`IPFIX collector ${this.describe()}: ${err.message}; ${this.o.proto === 'tcp' ? 'reconnecting' : 'going on sending'}`);
  }

  private drain(): void {
    while (this.ready && this.queue.length && !(this.tcp?.writableNeedDrain ?? false)) {
      if (this.templatesDue()) this.put({ msg: templateMessage(this.o.templates, this.o.domain), done: noop });
      const q = this.queue.shift()!;
      this.queuedBytes -= q.msg.data.length;
      this.messagesSinceTemplates++;
      this.put(q);
    }
  }

  private templatesDue(): boolean {
    if (this.templatesAt === -Infinity) return true;
    if (this.o.proto === 'tcp') return false;
    return Date.now() - this.templatesAt >= this.o.refreshMs || (this.o.refreshMessages > 0 && this.messagesSinceTemplates >= this.o.refreshMessages);
  }

  /** Stamps a message with its place in the session and hands it to the socket. */
  private put(q: Queued): void {
    if (q.msg.records === 0) {
      this.templatesAt = Date.now();
      this.messagesSinceTemplates = 0;
    }
    stamp(q.msg.data, Math.floor(Date.now() / 1000), this.sequence);
    this.sequence = (this.sequence + q.msg.records) >>> 0;
    this.inflight.add(q);
    const cb = (err?: Error | null) => this.written(q, err);
    if (this.udp) this.udp.send(q.msg.data, cb);
    else this.tcp!.write(q.msg.data, cb);
  }

  /** A message left the socket (the kernel took it) or failed. */
  private written(q: Queued, err: Error | null | undefined): void {
    if (!this.inflight.delete(q)) return; // counted already by close() or a lost connection
    if (err) {
      this.problem(err);
      this.counters.dropped += q.msg.records;
    } else {
      this.counters.sent += q.msg.records;
      if (this.udp) this.failures.recovered(`IPFIX collector ${this.describe()}: taking datagrams again`);
    }
    q.done();
    this.wake();
  }

  /** Wakes flush() once nothing is held. */
  private wake(): void {
    if (!this.idle() && !this.closing) return;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}

function noop(): void {}
