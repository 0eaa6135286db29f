/**
 * The NFACCT source of one group: every `pollinterval` seconds it asks the
 * kernel for its accounting objects (zeroing them as they are read, with
 * `zerocounter`) and makes one record per object, all with the time of the
 * poll. One netlink socket, one dump at a time. A poll that finds an output
 * busy is left out: with zerocounter the kernel keeps counting, and the next
 * poll reports it all. At stop, one last poll reports what was counted
 * since the previous one.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { type Counters, type Key, type SourceInstance, type RecordSink, NetlinkSocket } from 'specter/plugin';
import { type AcctHandlers, type AcctObject, type AcctStats, decodeDatagram, encodeDump } from './codec.js';

const NETLINK_NETFILTER = 12;
/** A dump not answered by then is abandoned (and counted as an error). */
const DUMP_TIMEOUT_MS = 10_000;
/** How long start() waits for the kernel to answer the first listing. */
const PROBE_TIMEOUT_MS = 5_000;

export interface NfacctSettings {
  /** Seconds between polls. */
  pollInterval: number;
  /** Zero each object's counters as they are read. */
  reset: boolean;
}

/** The keys the source sets, or null for those no output reads. */
export interface NfacctKeys {
  name: Key | null;
  pkts: Key | null;
  bytes: Key | null;
  sec: Key | null;
  usec: Key | null;
}

interface Dump {
  seq: number;
  /** A check at start: the objects make no records. */
  probe: boolean;
  timer: NodeJS.Timeout;
  done: (errno: number) => void;
}

export class NfacctSource implements SourceInstance {
  readonly name = 'NFACCT';
  private sock: NetlinkSocket | null = null;
  private sink: RecordSink | null = null;
  private poller: NodeJS.Timeout | null = null;
  private dump: Dump | null = null;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private sec = 0;
  private usec = 0;
  private delivered = 0;
  private failing = false;
  private stopping = false;
  /** Told when the dump under way ends (stop() waits for it). */
  private onIdle: (() => void) | null = null;
  private readonly obj: AcctObject = { name: '', pkts: 0n, bytes: 0n };
  private readonly stats: AcctStats = { objects: 0, malformed: 0 };
  private readonly handlers: AcctHandlers;

  constructor(
    private readonly settings: NfacctSettings,
    private readonly keys: NfacctKeys,
    readonly counters: Counters,
    private readonly log: Logger,
  ) {
    for (const c of ['polls', 'objects', 'busy', 'malformed']) counters.extra[c] = 0;
    this.handlers = {
      object: (o) => this.onObject(o),
      done: (seq) => this.finish(seq, 0),
      error: (seq, errno) => {
        if (errno !== 0) this.finish(seq, errno);
      },
    };
  }

  async start(sink: RecordSink): Promise<void> {
    this.sink = sink;
    const sock = new NetlinkSocket(NETLINK_NETFILTER, {
      datagram: (buf) => this.onDatagram(buf),
      error: (errno, times) => {
        this.counters.errors += times;
        this.log.error(`NFACCT: receive error ${errnoName(errno)}`);
      },
      failed: (err) => this.failed(err),
    });
    this.sock = sock;
    try {
      sock.bind(0);
    } catch (err) {
      this.close();
      throw new Error(`NFACCT: cannot open a netlink socket: ${(err as Error).message}`);
    }
    // One listing without zeroing, so that a kernel that refuses (no CAP_NET_ADMIN) stops the start with one line.
    const errno = await this.request(true, PROBE_TIMEOUT_MS);
    if (errno !== 0) {
      this.close();
      throw new Error(`NFACCT: the kernel refused to list its accounting objects: ${errnoName(errno)}`);
    }
    this.poller = setInterval(() => this.poll(), this.settings.pollInterval * 1000);
    this.log.debug(`NFACCT: polling every ${this.settings.pollInterval} s${this.settings.reset ? ', zeroing the counters' : ''}`);
  }

  async stop(maxMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    if (this.sock) {
      // What was counted since the last poll: one more poll, unless one is under way already.
      const wait = Math.min(maxMs, 2000);
      if (this.dump)
        await new Promise<void>((r) => {
          const t = setTimeout(r, wait);
          this.onIdle = () => {
            clearTimeout(t);
            r();
          };
        });
      else await this.request(false, wait);
    }
    this.close();
    this.sink = null;
  }

  private poll(): void {
    if (this.stopping) return;
    if (this.dump) return; // the previous one is still answering (its timeout ends it)
    if (this.sink?.busy()) {
      // The kernel keeps counting: the next poll reports this one's share.
      this.counters.extra.busy++;
      return;
    }
    void this.request(false, DUMP_TIMEOUT_MS);
  }

  /** Sends one dump request; resolves with 0 when the dump ended, else the errno (ETIMEDOUT when unanswered). */
  private request(probe: boolean, timeoutMs: number): Promise<number> {
    return new Promise((resolve) => {
      const seq = (this.seq = (this.seq + 1) >>> 0);
      const now = Date.now();
      this.sec = Math.floor(now / 1000);
      this.usec = (now % 1000) * 1000;
      const timer = setTimeout(() => this.finish(seq, os.constants.errno.ETIMEDOUT), timeoutMs);
      this.dump = { seq, probe, timer, done: resolve };
      if (!probe) this.counters.extra.polls++;
      const errno = this.sock!.send(encodeDump(seq, this.settings.reset && !probe));
      if (errno !== 0) this.finish(seq, errno);
    });
  }

  private onDatagram(buf: Buffer): void {
    const before = this.delivered;
    const malformed = this.stats.malformed;
    decodeDatagram(buf, this.obj, this.handlers, this.stats);
    if (this.stats.malformed !== malformed) {
      this.counters.extra.malformed += this.stats.malformed - malformed;
      this.log.warn(`NFACCT: skipped a malformed message (${this.counters.extra.malformed} so far)`);
    }
    if (this.delivered !== before && this.sink) {
      try {
        this.sink.endBatch();
      } catch (err) {
        this.failed(err);
      }
    }
  }

  private onObject(o: AcctObject): void {
    this.counters.extra.objects++;
    const d = this.dump;
    if (!d || d.probe || !this.sink) return;
    const k = this.keys;
    const rec = this.sink.record;
    this.counters.received++;
    try {
      rec.clear();
      if (k.name) rec.set(k.name, o.name);
      if (k.pkts) rec.set(k.pkts, o.pkts);
      if (k.bytes) rec.set(k.bytes, o.bytes);
      if (k.sec) rec.set(k.sec, this.sec);
      if (k.usec) rec.set(k.usec, this.usec);
      this.sink.deliver();
      this.delivered++;
      this.counters.sent++;
    } catch (err) {
      this.failed(err);
    }
  }

  /** The dump `seq` ended (errno 0), was refused, or timed out. */
  private finish(seq: number, errno: number): void {
    const d = this.dump;
    if (!d || d.seq !== seq) return;
    this.dump = null;
    clearTimeout(d.timer);
    if (errno !== 0 && !d.probe) {
      this.counters.errors++;
      // Once per episode: a kernel that keeps refusing is said once, and again when it answers.
      if (!this.failing) {
        // The kernel checks CAP_NET_ADMIN on every request, not only when the socket opens: -u drops it.
        const why =
          errno === os.constants.errno.EPERM
            ? ': every reading needs CAP_NET_ADMIN, which the process no longer has (-u drops it unless the user keeps it)'
            : '';
        this.log.error(`NFACCT: listing the accounting objects failed: ${errnoName(errno)}${why}`);
      }
      this.failing = true;
    } else if (errno === 0 && this.failing) {
      this.failing = false;
      this.log.info('NFACCT: the kernel lists the accounting objects again');
    }
    d.done(errno);
    const idle = this.onIdle;
    this.onIdle = null;
    idle?.();
  }

  private close(): void {
    if (this.dump) this.finish(this.dump.seq, os.constants.errno.ECANCELED);
    this.sock?.close();
    this.sock = null;
  }

  private failed(err: unknown): void {
    if (this.counters.errors++ % 1000 === 0) this.log.error(`NFACCT: ${(err as Error)?.message ?? String(err)}`);
  }
}

function errnoName(errno: number): string {
  const name = Object.entries(os.constants.errno).find(([, v]) => v === errno)?.[0];
  return name ? `${name} (${errno})` : `errno ${errno}`;
}
