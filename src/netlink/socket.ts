/**
 * A netlink socket of any protocol on specter's addon: datagrams arrive in
 * batches (one call from native code per wake-up, up to `maxBatch` datagrams in
 * one fresh Buffer) and are handed on one at a time as views into it. The
 * views stay valid for as long as they are referenced, so a consumer may keep
 * them (queued rows do); with `shared`, they are valid only until the handler
 * returns. Nothing a handler throws reaches native code.
 */
import { loadAddon, type NativeSocket } from './addon.js';

/** setsockopt(SOL_NETLINK) option names (linux/netlink.h). */
export const NETLINK_ADD_MEMBERSHIP = 1;
export const NETLINK_DROP_MEMBERSHIP = 2;
export const NETLINK_BROADCAST_ERROR = 4;
export const NETLINK_NO_ENOBUFS = 5;

/** Datagrams read per wake-up by default: enough to amortise the call into JS, few enough to let other I/O run. */
const MAX_BATCH = 64;

export interface NetlinkOptions {
  /**
   * The largest datagram expected, in bytes (4096 to 262144; default 262144,
   * what NFLOG needs): each datagram is read into this much space, several
   * per system call, and a larger one is lost (reported as EMSGSIZE). Small
   * datagrams read with a small size take fewer system calls.
   */
  maxDatagram?: number;
  /** Datagrams read per wake-up at most (default 64); a wake-up also ends after about 1 MiB. */
  maxBatch?: number;
  /**
   * Every batch is the one buffer the datagrams are read into, overwritten by
   * the next: no allocation and no copy per wake-up, for a consumer that keeps
   * nothing of a datagram past its handler (it copies what it keeps).
   */
  shared?: boolean;
}

export interface NetlinkHandlers {
  /** One datagram from the kernel. */
  datagram(buf: Buffer): void;
  /**
   * Called instead of datagram() when given: the datagram is `buf` from `start`
   * to `end`, and no view of it is made (an object per datagram).
   */
  datagramAt?(buf: Buffer, start: number, end: number): void;
  /**
   * Receive errors, counted per wake-up: ENOBUFS (the kernel dropped datagrams
   * because the receive buffer was full; reading goes on), EMSGSIZE (a datagram
   * too large for the read space, lost), or any other errno.
   */
  error(errno: number, times: number): void;
  /** A handler threw. */
  failed(err: unknown): void;
}

export class NetlinkSocket {
  private readonly native: NativeSocket;
  /** Where each datagram of the current batch ends; written by native code, which reads nothing while a batch is held. */
  private readonly ends: Int32Array;
  /** The current batch: datagrams `next` to `count` are not handed on yet (a pause came in the middle). */
  private batch: Buffer | null = null;
  private next = 0;
  private count = 0;
  private start = 0;
  private delivering = false;
  private paused = false;
  private closed = false;

  constructor(
    readonly protocol: number,
    private readonly handlers: NetlinkHandlers,
    options: NetlinkOptions = {},
  ) {
    const Native = loadAddon();
    this.ends = new Int32Array(options.maxBatch ?? MAX_BATCH);
    try {
      this.native = new Native(
        protocol,
        this.ends,
        (buf, count) => this.onBatch(buf, count),
        (errno, times) => this.onError(errno, times),
        options.maxDatagram,
        options.shared ?? false,
      );
    } catch (err) {
      throw this.error(err);
    }
  }

  /** Binds to a port the kernel picks, joined to the multicast `groups` bitmask, and starts reading; returns the port. */
  bind(groups = 0): number {
    return this.call(() => this.native.bind(groups));
  }

  /** setsockopt(SOL_NETLINK, name, value): memberships, NETLINK_NO_ENOBUFS, NETLINK_BROADCAST_ERROR. */
  setOption(name: number, value: number): void {
    this.call(() => this.native.setNetlinkOption(name, value));
  }

  /** Asks for `bytes` of receive buffer (past net.core.rmem_max where the process has CAP_NET_ADMIN). */
  setReceiveBuffer(bytes: number): void {
    this.call(() => this.native.setReceiveBuffer(Math.max(1, Math.min(0x7fffffff, Math.floor(bytes)))));
  }

  /** The receive buffer as the kernel reports it (twice what was asked: its bookkeeping is included). */
  get receiveBuffer(): number {
    return this.call(() => this.native.receiveBuffer());
  }

  /** Sends one message to the kernel; returns 0 or the errno. */
  send(msg: Buffer): number {
    return this.native.send(msg);
  }

  /**
   * Stops or resumes reading; the kernel keeps what arrives meanwhile (up to the
   * receive buffer). A pause takes effect at once: the rest of a batch already
   * read is held and handed on first when reading resumes.
   */
  pause(on: boolean): void {
    if (this.closed) return;
    this.paused = on;
    if (on) {
      this.native.pause(true);
      return;
    }
    if (this.batch && !this.delivering) this.drain();
    if (!this.paused && !this.closed) this.native.pause(false);
  }

  /**
   * Milliseconds to let datagrams gather after a quiet spell: once the socket
   * becomes readable after a batch that was not full, it is read this much later,
   * so a burst comes in one batch and one wake-up; after a full batch, at once.
   * 0 (the default): read as soon as it is readable.
   */
  setReadDelay(ms: number): void {
    if (this.closed) return;
    this.call(() => this.native.setReadDelay(Math.max(0, Math.min(60_000, Math.floor(ms)))));
  }

  close(): void {
    this.closed = true;
    this.batch = null;
    this.native.close();
  }

  private onBatch(buf: Buffer, count: number): void {
    this.batch = buf;
    this.count = count;
    this.next = 0;
    this.start = 0;
    this.drain();
  }

  /** Hands on the current batch's datagrams until it ends, a handler pauses, or the socket closes. */
  private drain(): void {
    const buf = this.batch!;
    const h = this.handlers;
    this.delivering = true;
    while (this.next < this.count && !this.paused && !this.closed) {
      const start = this.start;
      const end = (this.start = this.ends[this.next++]);
      try {
        if (h.datagramAt) h.datagramAt(buf, start, end);
        else h.datagram(buf.subarray(start, end));
      } catch (err) {
        this.failed(err);
      }
    }
    this.delivering = false;
    if (this.next >= this.count) this.batch = null;
  }

  private onError(errno: number, times: number): void {
    try {
      this.handlers.error(errno, times);
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    try {
      this.handlers.failed(err);
    } catch {
      // The report itself failed: nothing is left to tell, and native code must not see it.
    }
  }

  private call<T>(fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.error(err);
    }
  }

  /** One line naming the protocol, keeping the errno and code. */
  private error(err: unknown): Error {
    const e = err as { message?: string; code?: string; errno?: number };
    return Object.assign(new Error(`netlink protocol ${this.protocol}: ${e.message ?? String(err)}`), { code: e.code, errno: e.errno });
  }
}
