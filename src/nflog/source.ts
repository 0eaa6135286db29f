/**
 * The NFLOG source of one group: binds the group, configures batching, and
 * turns every datagram into packets for the pipeline (one reused Packet,
 * one endBatch per datagram). Loss stays visible: ENOBUFS, malformed
 * messages and gaps in the kernel's sequence numbers are counted. While an
 * output is busy (behind its disk), the socket is not read: packets wait in
 * the kernel's receive buffer, which is far larger than any output's queue.
 */
import type { Logger } from 'pino';
import { Counters } from '../core/counters.js';
import { Packet } from '../core/packet.js';
import type { PacketSink, Source } from '../core/source.js';
import { cfg, decodeDatagram, type DecodeStats } from './codec.js';
import { AF_INET, AF_INET6, AF_UNSPEC, CFG_FLAG, CMD, COPY_MODE, NFULA_CFG } from './constants.js';
import { CAP_NET_ADMIN, hasCapability } from '../privileges.js';
import type { NflogSettings } from './options.js';
import { NflogSocket } from './socket.js';

/** How often a paused source asks whether the busy output has caught up. */
const HOLD_CHECK_MS = 10;
/**
 * The longest one pause lasts. An output that stays busy this long is stuck
 * (a hung disk), not slow: the group reads on so its other outputs keep
 * logging, and the stuck one drops and counts what does not fit.
 */
const MAX_HOLD_MS = 5000;

export class NflogSource implements Source {
  readonly name: string;
  readonly counters = new Counters();
  private sock: NflogSocket | null = null;
  private sink: PacketSink | null = null;
  private readonly pkt = new Packet();
  private readonly stats: DecodeStats = { packets: 0, malformed: 0 };
  private lastSeq = -1;
  private stopping = false;
  private holding: NodeJS.Timeout | null = null;
  private heldSince = 0;
  /** A pause ran out: no new one until the outputs are not busy any more. */
  private stuck = false;
  private readonly onPacket = (pkt: Packet) => this.deliver(pkt);

  constructor(
    readonly group: number,
    private readonly settings: NflogSettings,
    private readonly limits: { rmem: number },
    private readonly log: Logger,
  ) {
    this.name = `NFLOG group ${group}`;
    for (const c of ['datagrams', 'enobufs', 'malformed', 'seq_gaps', 'paused', 'paused_ms']) this.counters.extra[c] = 0;
  }

  async start(sink: PacketSink): Promise<void> {
    this.sink = sink;
    const s = this.settings;
    const sock = new NflogSocket(
      this.group,
      this.limits.rmem,
      this.log,
      (buf) => this.onDatagram(buf),
      () => {
        this.counters.extra.enobufs++;
      },
    );
    this.sock = sock;
    try {
      if (s.pfbind) {
        for (const af of [AF_INET, AF_INET6]) {
          await sock.request(af, [cfg.cmd(CMD.PF_UNBIND)], `unbinding family ${af}`).catch(() => undefined);
          await sock.request(af, [cfg.cmd(CMD.PF_BIND)], `binding family ${af}`);
        }
      }
      await sock.request(AF_UNSPEC, [cfg.cmd(CMD.BIND)], 'bind');
      let flags = 0;
      if (s.seq) flags |= CFG_FLAG.SEQ;
      if (s.seqglobal) flags |= CFG_FLAG.SEQ_GLOBAL;
      await sock.request(
        AF_UNSPEC,
        [
          cfg.mode(COPY_MODE[s.copymode], s.copyrange === 0 ? 0xffff : s.copyrange),
          cfg.u32(NFULA_CFG.NLBUFSIZ, s.nlbufsiz),
          cfg.u32(NFULA_CFG.QTHRESH, s.qthreshold),
          cfg.u32(NFULA_CFG.TIMEOUT, s.flushtimeout),
          cfg.flags(flags),
        ],
        'configuring copy mode, buffer size, threshold, timeout and flags',
      );
    } catch (err) {
      sock.close();
      this.sock = null;
      throw err;
    }
    this.log.debug({ ...s, rcvbuf: sock.receiveBuffer }, `${this.name}: bound`);
  }

  async stop(maxMs = 60000): Promise<void> {
    const sock = this.sock;
    if (!sock || this.stopping) return;
    this.stopping = true;
    // The acknowledgement queues behind every datagram the kernel already sent us, so waiting
    // for it drains the socket: packets accepted before SIGTERM are still delivered (at the
    // pace of a busy output). A full buffer can drop the acknowledgement itself; then the
    // socket going quiet ends the wait. After `-u` the process lacks CAP_NET_ADMIN and the kernel
    // refuses the unbind (EPERM); the refusal queues the same way, and closing the socket unbinds.
    const expectRefusal = !hasCapability(CAP_NET_ADMIN);
    const unbound = sock.request(AF_UNSPEC, [cfg.cmd(CMD.UNBIND)], 'unbind', 60000).catch((err) => {
      if (!expectRefusal) this.log.warn(err.message);
    });
    let limit: NodeJS.Timeout | undefined;
    let late = false;
    const timeout = new Promise<void>((r) => {
      limit = setTimeout(() => {
        late = true;
        r();
      }, maxMs);
    });
    await Promise.race([unbound, this.quiet(500), timeout]);
    clearTimeout(limit);
    if (late) this.log.warn(`${this.name}: not drained within the shutdown timeout; closing it`);
    if (this.holding) this.resume();
    this.sock = null;
    sock.close();
    this.sink = null;
  }

  /** Resolves once no datagram has arrived for `ms` while reading (a pause for a busy output is not quiet). */
  private async quiet(ms: number): Promise<void> {
    for (;;) {
      const seen = this.counters.extra.datagrams;
      await new Promise((r) => setTimeout(r, ms));
      if (this.counters.extra.datagrams === seen && !this.holding) return;
    }
  }

  /** Stops reading while an output is busy; the kernel holds what arrives (counted in `paused`, `paused_ms`). */
  private holdIfBusy(): void {
    if (this.holding || !this.sock || !this.sink) return;
    if (!this.sink.busy()) {
      this.stuck = false;
      return;
    }
    if (this.stuck) return;
    this.sock.pause(true);
    this.counters.extra.paused++;
    this.heldSince = Date.now();
    this.holding = setInterval(() => {
      if (!this.sink?.busy()) this.resume();
      else if (Date.now() - this.heldSince >= MAX_HOLD_MS) {
        this.stuck = true;
        this.log.warn(`${this.name}: an output has been busy for ${MAX_HOLD_MS / 1000} s; reading on, it drops what does not fit until it catches up`);
        this.resume();
      }
    }, HOLD_CHECK_MS);
  }

  private resume(): void {
    if (this.holding) clearInterval(this.holding);
    this.holding = null;
    this.counters.extra.paused_ms += Date.now() - this.heldSince;
    this.sock?.pause(false);
  }

  private onDatagram(buf: Buffer): void {
    this.counters.extra.datagrams++;
    const before = this.stats.packets;
    const malformed = this.stats.malformed;
    decodeDatagram(buf, this.pkt, this.onPacket, this.stats, (seq, errno) => this.sock?.settle(seq, errno));
    if (this.stats.malformed !== malformed) {
      this.counters.extra.malformed += this.stats.malformed - malformed;
      this.log.warn(`${this.name}: skipped a malformed message (${this.counters.extra.malformed} so far)`);
    }
    if (this.stats.packets !== before && this.sink) {
      try {
        this.sink.endBatch();
        this.holdIfBusy();
      } catch (err) {
        this.failed(err);
      }
    }
  }

  private deliver(pkt: Packet): void {
    this.counters.received++;
    if (pkt.seqLocal >= 0) {
      if (this.lastSeq >= 0) {
        const gap = (pkt.seqLocal - this.lastSeq - 1) >>> 0;
        // A jump backwards (the group was rebound) is no loss.
        if (gap > 0 && gap < 0x80000000) this.counters.extra.seq_gaps += gap;
      }
      this.lastSeq = pkt.seqLocal;
    }
    if (!this.sink) return;
    try {
      this.sink.packet(pkt);
      this.counters.sent++;
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    if (this.counters.errors++ % 1000 === 0) this.log.error({ err }, `${this.name}: the pipeline failed on a packet`);
  }
}
