/**
 * A stream or datagram peer for outputs that send records over the network
 * or a Unix socket: `unix:/path`, `tcp:host:port` or `udp:host:port`.
 * While the peer is away or not reading, records wait in a bounded buffer
 * (bytes); what does not fit is counted as dropped. Stream peers are
 * reconnected with back-off.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import { Backoff } from './backoff.js';
import { CommitQueue } from './commit-queue.js';
import type { Counters } from './counters.js';
import { ErrorReporter } from './error-reporter.js';

export interface Endpoint {
  kind: 'unix' | 'tcp' | 'udp';
  path?: string;
  host?: string;
  port?: number;
}

/** Parses `unix:/path`, `tcp:host:port`, `udp:host:port` (host may be [v6]); null when malformed. */
export function parseEndpoint(s: string): Endpoint | null {
  const unix = /^unix:(\/.+)$/.exec(s);
  if (unix) return { kind: 'unix', path: unix[1] };
  const m = /^(tcp|udp):(\[[^\]]+\]|[^:]+):(\d+)$/.exec(s);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  return { kind: m[1] as 'tcp' | 'udp', host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** flush() gives up once the peer has taken nothing for this long (away, or not reading). */
const STALL_MS = 5000;

interface Chunk {
  data: Buffer;
  events: number;
  /** Settles its records (CommitQueue). */
  ticket: number;
}

/** What one connection holds: handed to its socket but not yet to the kernel. */
interface Conn {
  bytes: number;
  events: number;
  /** Closed or abandoned: what it held is counted already, late callbacks change nothing. */
  dead: boolean;
  /** Ticket of the last chunk handed to it: lost with it, everything up to there is settled. */
  last: number;
}

/**
 * Bytes held for the peer, waiting or handed to the socket and not yet
 * taken by the kernel, never exceed `maxBytes`, connected or not: a peer
 * that stops reading fills its socket buffer, the socket asks us to wait
 * (writableNeedDrain), chunks wait here until 'drain', and what does not fit
 * is counted as dropped. Chunks leave in order; `sent` counts records the
 * kernel took, `dropped` those that did not fit, died with a connection or
 * were still here at close(). Records are committed (`commit`), oldest
 * first, once sent or dropped.
 */
export class SocketSink {
  private queue: Chunk[] = [];
  private waitingBytes = 0;
  private heldBytes = 0;
  private conn: Conn | null = null;
  private sock: net.Socket | null = null;
  private udp: dgram.Socket | null = null;
  private connected = false;
  private readonly backoff = new Backoff();
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private readonly failures: ErrorReporter;
  private readonly drops: ErrorReporter;
  private readonly dropLine = () => `buffer for ${this.describe()} is full: dropping records (${this.counters.dropped} so far)`;
  private waiters: Array<() => void> = [];
  private lastProgress = 0;
  private readonly commits: CommitQueue;

  constructor(
    private readonly ep: Endpoint,
    private readonly maxBytes: number,
    private readonly counters: Counters,
    private readonly log: Logger,
    commit: (n: number) => void = () => {},
  ) {
    this.commits = new CommitQueue(commit);
    this.failures = new ErrorReporter(log);
    this.drops = new ErrorReporter(log, { level: 'warn' });
  }

  /** Bytes held in this process for the peer (waiting, or in the socket's own buffer). */
  get bufferedBytes(): number {
    return this.heldBytes;
  }

  start(): void {
    if (this.ep.kind === 'udp') {
      this.udp = dgram.createSocket(net.isIPv6(this.ep.host!) ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.problem(err));
      this.conn = { bytes: 0, events: 0, dead: false, last: -1 };
      this.connected = true;
      return;
    }
    this.connect();
  }

  /** Queues one chunk (for datagrams: one message) holding `events` records. */
  send(data: Buffer, events: number): void {
    // A chunk larger than the whole limit still goes when nothing is held before it.
    if (this.closing || (this.heldBytes > 0 && this.heldBytes + data.length > this.maxBytes)) {
      this.counters.dropped += events;
      this.drops.failure(this.dropLine);
      this.commits.now(events);
      return;
    }
    this.queue.push({ data, events, ticket: this.commits.hold(events) });
    this.waitingBytes += data.length;
    this.heldBytes += data.length;
    if (this.connected) this.drain();
  }

  /**
   * Resolves when the kernel has everything; once the peer has taken nothing for 5 s,
   * what is still held is given up (counted as dropped, one line) and the connection
   * dropped: flush() ends with every record sent or dropped, as the output contract says.
   */
  flush(): Promise<void> {
    if (this.heldBytes === 0) return Promise.resolve();
    this.lastProgress = Date.now();
    return new Promise((resolve) => {
      const check = setInterval(() => {
        if (Date.now() - this.lastProgress < STALL_MS) return;
        if (this.giveUp('within 5 s')) this.sock?.destroy();
        done();
      }, 100);
      const done = () => {
        clearInterval(check);
        resolve();
      };
      this.waiters.push(done);
    });
  }

  /** Gives up on what the kernel has not taken (counted as dropped, one line) and closes; never waits. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.giveUp('before exit')) this.sock?.destroy();
    else this.sock?.end();
    this.udp?.close();
  }

  /** Counts every record held as dropped and settles it; returns how many there were. */
  private giveUp(when: string): number {
    const left = this.queue.reduce((n, q) => n + q.events, 0) + (this.conn && !this.conn.dead ? this.conn.events : 0);
    if (this.conn) this.conn.dead = true;
    // A datagram socket has no connection to lose: what it sends from now on is counted afresh.
    if (this.udp) this.conn = { bytes: 0, events: 0, dead: false, last: -1 };
    this.queue = [];
    this.waitingBytes = this.heldBytes = 0;
    if (left) {
      this.counters.dropped += left;
      this.log.warn(`${left} records for ${this.describe()} could not be delivered ${when}`);
    }
    this.commits.settleAll();
    this.settle();
    return left;
  }

  private describe(): string {
    return this.ep.kind === 'unix' ? `unix:${this.ep.path}` : `${this.ep.kind}:${this.ep.host}:${this.ep.port}`;
  }

  private connect(): void {
    const sock = this.ep.kind === 'unix' ? net.createConnection(this.ep.path!) : net.createConnection(this.ep.port!, this.ep.host);
    const conn: Conn = { bytes: 0, events: 0, dead: false, last: -1 };
    this.sock = sock;
    this.conn = conn;
    sock.on('connect', () => {
      this.connected = true;
      this.backoff.reset();
      this.failures.recovered(`connected to ${this.describe()} again`);
      this.drain();
    });
    sock.on('drain', () => this.drain());
    sock.on('error', (err) => this.problem(err));
    sock.on('close', () => {
      // What the closed socket still held is lost with it.
      if (!conn.dead) {
        conn.dead = true;
        this.counters.dropped += conn.events;
        this.heldBytes -= conn.bytes;
        this.commits.settleThrough(conn.last);
      }
      this.connected = false;
      this.sock = null;
      if (!this.closing) this.timer = setTimeout(() => this.connect(), this.backoff.next());
      this.settle();
    });
  }

  private problem(err: Error): void {
    this.counters.errors++;
    this.failures.failure(`${this.describe()}: ${err.message}; buffering and retrying`);
  }

  private drain(): void {
    const conn = this.conn!;
    while (this.queue.length && this.connected && !(this.sock?.writableNeedDrain ?? false)) {
      const q = this.queue.shift()!;
      this.waitingBytes -= q.data.length;
      conn.bytes += q.data.length;
      conn.events += q.events;
      conn.last = q.ticket;
      const done = (err?: Error | null) => this.written(conn, q, err);
      if (this.udp)
        this.udp.send(q.data, this.ep.port!, this.ep.host!, (err) => {
          if (err) this.problem(err);
          done(err);
        });
      else this.sock!.write(q.data, done);
    }
  }

  /** A chunk left the socket: taken by the kernel, or failed with its connection. */
  private written(conn: Conn, q: Chunk, err: Error | null | undefined): void {
    if (conn.dead) return;
    conn.bytes -= q.data.length;
    conn.events -= q.events;
    this.heldBytes -= q.data.length;
    if (err) this.counters.dropped += q.events;
    else {
      this.counters.sent += q.events;
      this.lastProgress = Date.now();
    }
    this.commits.settle(q.ticket);
    this.settle();
  }

  /** Wakes flush() once nothing is held. */
  private settle(): void {
    if (this.heldBytes !== 0) return;
    const w = this.waiters;
    this.waiters = [];
    for (const fn of w) fn();
  }
}
