/**
 * A stream or datagram peer for outputs that send records over the network
 * or a Unix socket: `unix:/path`, `tcp:host:port` or `udp:host:port`.
 * While the peer is away, records wait in a bounded buffer (bytes); what does
 * not fit is counted as dropped. Stream peers are reconnected with back-off.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import type { Logger } from 'pino';
import type { Counters } from './counters.js';

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

const MIN_BACKOFF = 100;
const MAX_BACKOFF = 5000;

export class SocketSink {
  private queue: Array<{ data: Buffer; events: number }> = [];
  private queued = 0;
  private sock: net.Socket | null = null;
  private udp: dgram.Socket | null = null;
  private connected = false;
  private backoff = MIN_BACKOFF;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private reported = false;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly ep: Endpoint,
    private readonly maxBytes: number,
    private readonly counters: Counters,
    private readonly log: Logger,
  ) {}

  start(): void {
    if (this.ep.kind === 'udp') {
      this.udp = dgram.createSocket(net.isIPv6(this.ep.host!) ? 'udp6' : 'udp4');
      this.udp.on('error', (err) => this.problem(err));
      this.connected = true;
      return;
    }
    this.connect();
  }

  /** Queues one chunk (for datagrams: one message) holding `events` records. */
  send(data: Buffer, events: number): void {
    if (this.queued + data.length > this.maxBytes) {
      this.counters.dropped += events;
      if (this.counters.dropped === events || this.counters.dropped % 10000 < events) {
        this.log.warn({ dropped: this.counters.dropped }, `buffer for ${this.describe()} is full: dropping records`);
      }
      return;
    }
    this.queue.push({ data, events });
    this.queued += data.length;
    if (this.connected) this.drain();
  }

  /** Resolves when the buffer is empty, or after `ms` if the peer stays away. */
  flush(ms = 5000): Promise<void> {
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.waiters.push(() => { clearTimeout(t); resolve(); });
    });
  }

  async close(): Promise<void> {
    await this.flush();
    this.closing = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.queue.length) {
      const left = this.queue.reduce((n, q) => n + q.events, 0);
      this.counters.dropped += left;
      this.log.warn(`${left} records for ${this.describe()} could not be delivered before exit`);
    }
    this.sock?.end();
    this.udp?.close();
  }

  private describe(): string {
    return this.ep.kind === 'unix' ? `unix:${this.ep.path}` : `${this.ep.kind}:${this.ep.host}:${this.ep.port}`;
  }

  private connect(): void {
    const sock = this.ep.kind === 'unix' ? net.createConnection(this.ep.path!) : net.createConnection(this.ep.port!, this.ep.host);
    this.sock = sock;
    sock.on('connect', () => {
      this.connected = true;
      this.backoff = MIN_BACKOFF;
      if (this.reported) this.log.info(`connected to ${this.describe()} again`);
      this.reported = false;
      this.drain();
    });
    sock.on('error', (err) => this.problem(err));
    sock.on('close', () => {
      this.connected = false;
      this.sock = null;
      if (!this.closing) this.timer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF);
    });
  }

  private problem(err: Error): void {
    this.counters.errors++;
    if (!this.reported) {
      this.reported = true;
      this.log.error(`${this.describe()}: ${err.message}; buffering and retrying`);
    }
  }

  private drain(): void {
    while (this.queue.length && this.connected) {
      const q = this.queue.shift()!;
      this.queued -= q.data.length;
      if (this.udp) {
        this.udp.send(q.data, this.ep.port!, this.ep.host!, (err) => {
          if (err) { this.counters.dropped += q.events; this.problem(err); } else this.counters.sent += q.events;
        });
      } else {
        // Counted as sent once the kernel has it; a broken connection loses at most what is in flight.
        this.sock!.write(q.data, (err) => {
          if (err) this.counters.dropped += q.events;
          else this.counters.sent += q.events;
        });
      }
    }
    if (this.queue.length === 0) {
      const w = this.waiters;
      this.waiters = [];
      for (const fn of w) fn();
    }
  }
}
