/**
 * The NFCT source of one group: conntrack events (or periodic table dumps)
 * made into flow records. Loss stays visible: without `ctreliable`, an
 * ENOBUFS (events the kernel could not queue) is counted, logged once per
 * episode and followed by a table dump that resynchronises what the source
 * remembers; malformed messages are counted. While an output is busy the
 * socket is not read and events wait in the kernel's receive buffer (with
 * `ctreliable`, the kernel keeps and resends destroy events that do not fit).
 */
import fs from 'node:fs';
import os from 'node:os';
import type { Logger } from 'pino';
import type { Counters, SourceInstance, RecordSink, NetlinkHandlers, NetlinkSocket } from 'specter/plugin';
import { decodeDatagram, type DecodeHandlers, type DecodeStats } from './codec.js';
import { EVENT } from './constants.js';
import type { FlowFiller } from './fill.js';
import type { FlowFilter } from './filter.js';
import { Flow } from './flow.js';
import { openDump, openEvents, type EventName } from './socket.js';

export interface NfctSettings {
  /** The events that make records. */
  events: ReadonlySet<EventName>;
  reliable: boolean;
  /** Seconds between table dumps; 0: events. */
  pollInterval: number;
  rmem: number;
  filter: FlowFilter;
  /** Milliseconds the events socket lets events gather after a quiet spell before reading them; 0: at once. */
  readDelay: number;
}

/** How often a paused source asks whether the busy output has caught up, and the longest one pause lasts. */
const HOLD_CHECK_MS = 10;
const MAX_HOLD_MS = 5000;
/** A dump not finished by then is abandoned (and counted as an error). */
const DUMP_TIMEOUT_MS = 60_000;
/** Flows remembered for their start at most (a kernel's nf_conntrack_max is far lower by default). */
const MAX_REMEMBERED = 4_000_000;
/** The smallest receive buffer `readDelay` applies to: the wait ends at an eighth of it, 512 KiB, plus a few ms of events. */
const PACE_MIN_RCVBUF = 4 << 20;

const EVENT_BIT: { [e in EventName]: number } = { new: EVENT.NEW, update: EVENT.UPDATE, destroy: EVENT.DESTROY };

export class NfctSource implements SourceInstance {
  readonly name = 'NFCT';
  private events: NetlinkSocket | null = null;
  private dump: { sock: NetlinkSocket; timer: NodeJS.Timeout; seen: Set<number> | null; resync: boolean } | null = null;
  private sink: RecordSink | null = null;
  private poller: NodeJS.Timeout | null = null;
  private readonly flow = new Flow();
  private readonly stats: DecodeStats = { flows: 0, malformed: 0 };
  /** ct.event values that make records (bits 1, 2, 4); dumps (0) make records only when polling. */
  private readonly emitMask: number;
  /** Flow starts by conntrack id (microseconds since the epoch), when the kernel does not stamp flows or NEW events are wanted. */
  private starts: Map<number, number> | null = null;
  /** Flows a resync made a record of in place of their lost NEW event: their NEW, read late, makes none. */
  private readonly standIns = new Set<number>();
  private nowSec = 0;
  private nowUsec = 0;
  private delivered = 0;
  private fromDump = false;
  /** A wake-up's datagrams are being handed on; its records end one batch once they all are. */
  private wakeupOpen = false;
  private wakeupFromDump = false;
  private wakeupDelivered = 0;
  private readonly endWakeupTask = () => this.endWakeup();
  /** The events socket waits `readDelay` ms after a quiet spell before reading (not while resynchronising). */
  private paceOn = false;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  /** An ENOBUFS episode: from the first ENOBUFS to the end of a resync without a new one. */
  private overflowing = false;
  private enobufsAtResync = 0;
  private holding: NodeJS.Timeout | null = null;
  private heldSince = 0;
  private stuck = false;
  private stopping = false;
  private readonly decodeHandlers: DecodeHandlers;

  constructor(
    private readonly settings: NfctSettings,
    private readonly filler: FlowFiller,
    readonly counters: Counters,
    private readonly log: Logger,
  ) {
    for (const c of ['datagrams', 'flows', 'new', 'update', 'destroy', 'dumped', 'filtered', 'enobufs', 'resyncs', 'malformed']) counters.extra[c] = 0;
    let mask = 0;
    for (const e of settings.events) mask |= EVENT_BIT[e];
    this.emitMask = mask;
    this.decodeHandlers = { flow: (f) => this.onFlow(f), done: () => this.dumpDone(), ack: (_seq, errno) => this.dumpRefused(errno) };
  }

  async start(sink: RecordSink): Promise<void> {
    this.sink = sink;
    const s = this.settings;
    const kernel = readSysctls();
    this.sayKernelSettings(kernel);
    // Without kernel timestamps, a destroy record's start comes from the flow's NEW event, remembered here.
    // With `new` among the events, the same memory tells which flows a resync meets for the first time.
    if ((!kernel.timestamp || s.events.has('new')) && s.pollInterval === 0) this.starts = new Map();
    if (s.pollInterval > 0) {
      this.startDump(false);
      this.poller = setInterval(() => {
        if (!this.dump) this.startDump(false);
      }, s.pollInterval * 1000);
      this.log.debug(`NFCT: dumping the conntrack table every ${s.pollInterval} s`);
      return;
    }
    const events = new Set(s.events);
    if (this.starts) events.add('new');
    this.events = openEvents(events, s.rmem, s.reliable, this.socketHandlers(false));
    const rcvbuf = this.events.receiveBuffer;
    // A small buffer could fill while reading waits: it is read at once.
    this.paceOn = s.readDelay > 0 && rcvbuf >= PACE_MIN_RCVBUF;
    if (this.paceOn) this.events.setReadDelay(s.readDelay);
    this.log.debug({ events: [...events], reliable: s.reliable, rcvbuf, readDelay: this.paceOn ? s.readDelay : 0 }, 'NFCT: subscribed to conntrack events');
  }

  async stop(maxMs = 60_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    this.events?.setReadDelay(0);
    // Events already queued in the socket are still delivered: read until it is quiet, within the limit.
    if (this.events) await this.quiet(100, Math.min(maxMs, 2000));
    if (this.holding) this.resume();
    this.events?.close();
    this.events = null;
    this.closeDump();
    this.sink = null;
  }

  private socketHandlers(dump: boolean): NetlinkHandlers {
    return {
      datagram: (buf) => this.onDatagram(buf, 0, buf.length, dump),
      datagramAt: (buf, start, end) => this.onDatagram(buf, start, end, dump),
      error: (errno, times) => this.onError(errno, times, dump),
      failed: (err) => this.failed(err),
    };
  }

  private async quiet(ms: number, maxMs: number): Promise<void> {
    const end = Date.now() + maxMs;
    for (;;) {
      const seen = this.counters.extra.datagrams;
      await new Promise((r) => setTimeout(r, ms));
      if ((this.counters.extra.datagrams === seen && !this.holding) || Date.now() >= end) return;
    }
  }

  private onDatagram(buf: Buffer, start: number, end: number, dump: boolean): void {
    this.counters.extra.datagrams++;
    this.fromDump = dump;
    if (!this.wakeupOpen) {
      // Datagrams of one wake-up come with no microtask in between, read in one go: one arrival time.
      const now = Date.now();
      this.nowSec = Math.floor(now / 1000);
      this.nowUsec = (now % 1000) * 1000;
      this.wakeupOpen = true;
      this.wakeupFromDump = dump;
      this.wakeupDelivered = this.delivered;
      queueMicrotask(this.endWakeupTask);
    }
    const malformed = this.stats.malformed;
    decodeDatagram(buf, this.flow, this.decodeHandlers, this.stats, start, end);
    if (this.stats.malformed !== malformed) {
      this.counters.extra.malformed += this.stats.malformed - malformed;
      this.log.warn(`NFCT: skipped a malformed message (${this.counters.extra.malformed} so far)`);
    }
  }

  /**
   * After a wake-up's datagrams: its records end one batch (each event is a datagram of its own: a batch per
   * datagram would make the outputs write, IPFIX send, once per flow).
   */
  private endWakeup(): void {
    this.wakeupOpen = false;
    if (!this.sink || this.delivered === this.wakeupDelivered) return;
    try {
      this.sink.endBatch();
      this.holdIfBusy();
    } catch (err) {
      this.failed(err);
    }
  }

  private onFlow(f: Flow): void {
    const c = this.counters.extra;
    c.flows++;
    const event = this.fromDump ? 0 : f.event;
    // A dump's answer carries our own port: it is no process's request.
    if (this.fromDump) f.portid = 0;
    if (event === EVENT.NEW) c.new++;
    else if (event === EVENT.UPDATE) c.update++;
    else if (event === EVENT.DESTROY) c.destroy++;
    else c.dumped++;
    const nowUs = this.nowSec * 1e6 + this.nowUsec;
    let startUs = f.startSec >= 0 ? f.startSec * 1e6 + Math.floor(f.startNsec / 1000) : -1;
    let emit = (this.emitMask & event) !== 0 || (event === 0 && this.settings.pollInterval > 0);
    const starts = this.starts;
    if (starts && f.id >= 0) {
      const known = starts.get(f.id);
      if (event === EVENT.DESTROY) {
        starts.delete(f.id);
        this.dump?.seen?.delete(f.id);
        this.standIns.delete(f.id);
      } else if (event === EVENT.NEW && this.standIns.delete(f.id)) {
        // The NEW event was only late (queued behind the overflow), not lost: the dump's record stands.
        emit = false;
      } else {
        // Alive: a resync running now must not count it as ended unseen (a NEW may arrive after the dump passed its place).
        this.dump?.seen?.add(f.id);
        // A NEW event (an id seen before belonged to a flow whose destroy was lost), or a flow met first in a
        // resync dump (its NEW was lost): it starts now, as far as we know.
        if (known === undefined || event === EVENT.NEW) {
          if (startUs < 0) startUs = nowUs;
          if (known === undefined && starts.size >= MAX_REMEMBERED) starts.delete(starts.keys().next().value as number);
          starts.set(f.id, startUs);
          // Its NEW event was lost in an overflow: the dump's answer stands in for it.
          if (known === undefined && event === 0 && this.dump?.resync && (this.emitMask & EVENT.NEW) !== 0) {
            emit = true;
            this.standIns.add(f.id);
          }
        }
      }
      if (startUs < 0 && known !== undefined) startUs = known;
    }
    if (startUs < 0 && event === EVENT.NEW) startUs = nowUs;
    if (!emit || !this.sink) return;
    if (!this.settings.filter.empty && !this.settings.filter.match(f)) {
      c.filtered++;
      return;
    }
    let endSec = -1;
    let endUsec = -1;
    if (f.stopSec >= 0) {
      endSec = f.stopSec;
      endUsec = Math.floor(f.stopNsec / 1000);
    } else if (event === EVENT.DESTROY) {
      endSec = this.nowSec;
      endUsec = this.nowUsec;
    }
    const rec = this.sink.record;
    this.counters.received++;
    try {
      rec.clear();
      this.filler.fill(f, rec, startUs < 0 ? -1 : Math.floor(startUs / 1e6), startUs < 0 ? -1 : startUs % 1e6, endSec, endUsec);
      this.sink.deliver();
      this.delivered++;
      this.counters.sent++;
    } catch (err) {
      this.failed(err);
    }
  }

  private onError(errno: number, times: number, dump: boolean): void {
    const E = os.constants.errno;
    if (errno === E.ENOBUFS && !dump) {
      this.counters.extra.enobufs += times;
      if (!this.overflowing) {
        this.overflowing = true;
        // Behind: read as fast as events come until the resync ends.
        this.events?.setReadDelay(0);
        const size = this.events?.receiveBuffer ?? 0;
        const capped = size < this.settings.rmem ? ` (asked for ${this.settings.rmem}: net.core.rmem_max caps it without CAP_NET_ADMIN)` : '';
        this.log.warn(
          `NFCT: the kernel dropped conntrack events: the receive buffer of ${size} bytes${capped} was full; resynchronising with a table dump (ctreliable on makes the kernel keep them, a larger rmem absorbs longer bursts)`,
        );
      }
      if (!this.dump) this.startDump(true);
      return;
    }
    this.counters.errors++;
    this.log.error(`NFCT: ${dump ? 'table dump: ' : ''}receive error ${errnoName(errno)}${times > 1 ? ` (${times} times)` : ''}`);
  }

  /** Asks for the whole table on a socket of its own; `resync` after lost events. */
  private startDump(resync: boolean): void {
    if (this.stopping) return;
    const seq = (this.seq = (this.seq + 1) >>> 0);
    if (resync) {
      this.counters.extra.resyncs++;
      this.enobufsAtResync = this.counters.extra.enobufs;
    }
    let opened: ReturnType<typeof openDump>;
    try {
      opened = openDump(this.settings.rmem, seq, this.socketHandlers(true));
    } catch (err) {
      this.counters.errors++;
      this.log.error(`NFCT: cannot dump the conntrack table: ${(err as Error).message}`);
      return;
    }
    const timer = setTimeout(() => {
      this.counters.errors++;
      this.log.error(`NFCT: the conntrack table dump did not end within ${DUMP_TIMEOUT_MS / 1000} s; abandoned`);
      this.closeDump();
    }, DUMP_TIMEOUT_MS);
    this.dump = { sock: opened.sock, timer, seen: resync && this.starts ? new Set() : null, resync };
    if (opened.errno !== 0) {
      this.counters.errors++;
      this.log.error(`NFCT: cannot dump the conntrack table: ${errnoName(opened.errno)}`);
      this.closeDump();
    }
  }

  private dumpDone(): void {
    const d = this.dump;
    if (!d) return;
    if (d.seen && this.starts) {
      // Flows remembered but no longer in the table ended while events were lost.
      let gone = 0;
      for (const id of this.starts.keys()) {
        if (!d.seen.has(id)) {
          this.starts.delete(id);
          this.standIns.delete(id);
          gone++;
        }
      }
      if (gone > 0) this.log.warn(`NFCT: ${gone} flows ended while conntrack events were lost; they have no record`);
    }
    if (d.resync && this.counters.extra.enobufs === this.enobufsAtResync) {
      this.overflowing = false;
      if (this.paceOn) this.events?.setReadDelay(this.settings.readDelay);
      this.log.info(`NFCT: resynchronised with the conntrack table after losing events (${this.counters.extra.enobufs} ENOBUFS so far)`);
    } else if (d.resync) {
      // Events were lost during the dump too: one more.
      this.closeDump();
      this.startDump(true);
      return;
    }
    this.closeDump();
  }

  private dumpRefused(errno: number): void {
    if (errno === 0 || !this.dump) return;
    this.counters.errors++;
    this.log.error(`NFCT: the kernel refused the conntrack table dump: ${errnoName(errno)}`);
    this.closeDump();
  }

  private closeDump(): void {
    const d = this.dump;
    if (!d) return;
    this.dump = null;
    clearTimeout(d.timer);
    d.sock.close();
  }

  /** Stops reading while an output is busy; the kernel holds what arrives. */
  private holdIfBusy(): void {
    if (this.holding || !this.sink) return;
    const sock = this.wakeupFromDump ? this.dump?.sock : this.events;
    if (!sock) return;
    if (!this.sink.busy()) {
      this.stuck = false;
      return;
    }
    if (this.stuck) return;
    sock.pause(true);
    this.heldSince = Date.now();
    this.holding = setInterval(() => {
      if (!this.sink?.busy()) this.resume();
      else if (Date.now() - this.heldSince >= MAX_HOLD_MS) {
        this.stuck = true;
        this.log.warn(`NFCT: an output has been busy for ${MAX_HOLD_MS / 1000} s; reading on, it drops what does not fit until it catches up`);
        this.resume();
      }
    }, HOLD_CHECK_MS);
  }

  private resume(): void {
    if (this.holding) clearInterval(this.holding);
    this.holding = null;
    this.events?.pause(false);
    this.dump?.sock.pause(false);
  }

  private sayKernelSettings(k: { timestamp: boolean; acct: boolean; found: boolean }): void {
    if (!k.found) {
      this.log.warn(
        'NFCT: /proc/sys/net/netfilter/nf_conntrack_* not found: connection tracking is not loaded here; flows appear once a rule uses it (ct state, NAT)',
      );
      return;
    }
    if (!k.timestamp) {
      this.log.warn(
        "NFCT: nf_conntrack_timestamp is off: flow starts come from NEW events seen by this process, ends from the destroy event's arrival (sysctl -w net.netfilter.nf_conntrack_timestamp=1 for the kernel's own times)",
      );
    }
    if (!k.acct) {
      this.log.warn('NFCT: nf_conntrack_acct is off: flow records carry no packet or byte counts (sysctl -w net.netfilter.nf_conntrack_acct=1)');
    }
  }

  private failed(err: unknown): void {
    if (this.counters.errors++ % 1000 === 0) this.log.error({ err }, 'NFCT: the pipeline failed on a flow');
  }
}

function readSysctls(): { timestamp: boolean; acct: boolean; found: boolean } {
  const read = (name: string): string | null => {
    try {
      return fs.readFileSync(`/proc/sys/net/netfilter/${name}`, 'utf8').trim();
    } catch {
      return null;
    }
  };
  const ts = read('nf_conntrack_timestamp');
  const acct = read('nf_conntrack_acct');
  return { timestamp: ts === '1', acct: acct === '1', found: ts !== null || acct !== null };
}

function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
}
