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
 *
 * Over UDP every message waiting goes to the kernel in one call (the plugin
 * kit's UdpSocket): a batch of flows is one system call, not one per datagram.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import { Backoff, type Counters, ErrorReporter, UdpSocket } from 'specter/plugin';
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
  /** UDP: called with the MTU of the route to the collector once the socket is connected. */
  onRouteMtu?: (mtu: number) => void;
}

interface Queued {
  msg: Message;
  /** Settles the message's records in the output's commit order (sent or dropped). */
  done: () => void;
}

export class IpfixTransport {
  private queue: Queued[] = [];
  private queuedBytes = 0;
  /** Handed to the TCP socket, waiting for its callback. */
  private inflight = new Set<Queued>();
  /** UDP: stamped in their order, waiting for the kernel to take them (its buffer was full). */
  private staged: Queued[] = [];
  private udp: UdpSocket | null = null;
  /** UDP: a send found the socket's buffer full; the socket calls back when it has room. */
  private blocked = false;
  /** UDP: a drain is due once the current batch has queued its messages. */
  private drainQueued = false;
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

  /**
   * Over UDP to an address, resolves once the socket is open (the route's MTU
   * is then known); a host name is not waited for (its lookup may be slow).
   */
  async start(): Promise<void> {
    if (this.o.proto === 'tcp') return this.connectTcp();
    const opening = this.openUdp();
    if (net.isIP(this.o.host)) await opening;
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
    if (!this.udp) this.drain();
    else if (!this.drainQueued) {
      // The messages of one batch come one after another: they go to the kernel together, after it.
      this.drainQueued = true;
      queueMicrotask(() => {
        this.drainQueued = false;
        this.drain();
      });
    }
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
    const left = [...this.inflight, ...this.staged, ...this.queue];
    this.inflight.clear();
    this.staged = [];
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
    this.udp = null;
  }

  private describe(): string {
    return `${this.o.proto}:${this.o.host}:${this.o.port}`;
  }

  private idle(): boolean {
    return this.queue.length === 0 && this.inflight.size === 0 && this.staged.length === 0;
  }

  /** A connected socket resolves the host once and hears the collector's port-unreachable errors. */
  private openUdp(): Promise<void> {
    return UdpSocket.connect(this.o.host, this.o.port, () => {
      this.blocked = false;
      this.drain();
    }).then(
      (sock) => {
        if (this.closing) {
          sock.close();
          return;
        }
        this.udp = sock;
        const mtu = sock.mtu();
        if (mtu) this.o.onRouteMtu?.(mtu);
        this.ready = true;
        this.backoff.reset();
        this.drain();
      },
      (err: Error) => {
        // The host did not resolve: try again later.
        this.problem(err);
        if (!this.closing) this.timer = setTimeout(() => this.openUdp(), this.backoff.next());
      },
    );
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
    if (this.udp) {
      this.drainUdp();
      return;
    }
    while (this.ready && this.queue.length && !(this.tcp?.writableNeedDrain ?? false)) {
      const q = this.next();
      this.inflight.add(q);
      this.tcp!.write(q.msg.data, (err?: Error | null) => this.written(q, err));
    }
  }

  /** The next message to send, stamped (after the templates when they are due). */
  private next(): Queued {
    if (this.templatesDue()) {
      const t: Queued = { msg: templateMessage(this.o.templates, this.o.domain), done: noop };
      this.stamp(t);
      this.templatesAt = Date.now();
      this.messagesSinceTemplates = 0;
      return t;
    }
    const q = this.queue.shift()!;
    this.queuedBytes -= q.msg.data.length;
    this.messagesSinceTemplates++;
    this.stamp(q);
    return q;
  }

  /** UDP: stamps what is queued and hands all of it to the kernel, as few calls as it takes. */
  private drainUdp(): void {
    const udp = this.udp!;
    while (!this.blocked && !this.closing) {
      while (this.queue.length && this.staged.length < MAX_STAGED) this.staged.push(this.next());
      if (this.staged.length === 0) break;
      const r = udp.send(this.staged.map((q) => q.msg.data));
      if (r.error?.code === 'EAGAIN') {
        this.blocked = true;
        return;
      }
      // Taken by the kernel, or (an error) the first one lost.
      const settled = this.staged.splice(0, r.error ? 1 : r.sent);
      for (const q of settled) {
        if (r.error) {
          // A refusal (ICMP port unreachable) comes back on the next send, which it stops: that message is lost.
          this.problem(r.error);
          this.counters.dropped += q.msg.records;
          if (q.msg.records === 0) this.templatesAt = -Infinity; // templates: again before the next message
        } else {
          this.counters.sent += q.msg.records;
        }
        q.done();
      }
      if (!r.error) this.failures.recovered(`IPFIX collector ${this.describe()}: taking datagrams again`);
    }
    this.wake();
  }

  private templatesDue(): boolean {
    if (this.templatesAt === -Infinity) return true;
    if (this.o.proto === 'tcp') return false;
    return Date.now() - this.templatesAt >= this.o.refreshMs || (this.o.refreshMessages > 0 && this.messagesSinceTemplates >= this.o.refreshMessages);
  }

  /** Stamps a message with its place in the session: the export time and the records sent before it. */
  private stamp(q: Queued): void {
    stamp(q.msg.data, Math.floor(Date.now() / 1000), this.sequence);
    this.sequence = (this.sequence + q.msg.records) >>> 0;
  }

  /** TCP: a message left the socket (the kernel took it) or failed. */
  private written(q: Queued, err: Error | null | undefined): void {
    if (!this.inflight.delete(q)) return; // counted already by close() or a lost connection
    if (err) {
      this.problem(err);
      this.counters.dropped += q.msg.records;
    } else {
      this.counters.sent += q.msg.records;
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

/** UDP: messages stamped and handed over per call at most (the addon takes 4096). */
const MAX_STAGED = 1024;
