/**
 * A NETLINK_NETFILTER socket for one NFLOG group: configuration requests
 * with acknowledgements, datagrams in, and ENOBUFS (the kernel dropped
 * datagrams because our receive buffer was full) counted and reported.
 *
 * The receive buffer is set to `rmem` at once, with SO_RCVBUFFORCE where the
 * process may: it is a limit, not an allocation, and a burst that fits in it
 * is read later instead of lost.
 */
import os from 'node:os';
import type { Logger } from 'pino';
import { NetlinkSocket } from '../netlink/socket.js';
import { encodeConfig } from './codec.js';
import { NETLINK_NETFILTER } from './constants.js';

const ACK_TIMEOUT_MS = 3000;

export class NflogSocket {
  private readonly sock: NetlinkSocket;
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private warned = false;

  constructor(
    private readonly group: number,
    private readonly rmem: number,
    private readonly log: Logger,
    onDatagram: (buf: Buffer) => void,
    private readonly onEnobufs: () => void,
  ) {
    this.sock = new NetlinkSocket(NETLINK_NETFILTER, {
      datagram: onDatagram,
      error: (errno, times) => this.onError(errno, times),
      failed: (err) => this.log.error({ err }, `NFLOG group ${this.group}: failed on a datagram`),
    });
    try {
      // The kernel stores twice the asked size (its bookkeeping overhead) and reports that.
      this.sock.setReceiveBuffer(rmem / 2);
      this.sock.bind();
    } catch (err) {
      this.sock.close();
      throw err;
    }
  }

  /** Sends one configuration message and resolves on the kernel's acknowledgement. */
  request(family: number, attrs: Array<[number, Buffer]>, what: string, timeoutMs = ACK_TIMEOUT_MS): Promise<void> {
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const msg = encodeConfig(seq, family, family === 0 ? this.group : 0, attrs);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new Error(`NFLOG group ${this.group}: no answer from the kernel to ${what}`));
      }, timeoutMs);
      this.pending.set(seq, {
        resolve,
        reject: (e) => reject(new Error(e.message.startsWith('NFLOG group') ? e.message : `NFLOG group ${this.group}: ${what} failed: ${e.message}`)),
        timer,
      });
      const errno = this.sock.send(msg);
      if (errno !== 0) this.settle(seq, errno);
    });
  }

  /** Called with each acknowledgement found in incoming datagrams. */
  settle(seq: number, errno: number): void {
    const p = this.pending.get(seq);
    if (!p) return;
    this.pending.delete(seq);
    clearTimeout(p.timer);
    if (errno === 0) p.resolve();
    else p.reject(new Error(describeErrno(errno, this.group)));
  }

  /** Stops or resumes reading; the kernel keeps what arrives meanwhile (up to the receive buffer). */
  pause(on: boolean): void {
    this.sock.pause(on);
  }

  get receiveBuffer(): number {
    return this.sock.receiveBuffer;
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.sock.close();
  }

  private onError(errno: number, times: number): void {
    const E = os.constants.errno;
    if (errno === E.ENOBUFS) {
      for (let i = 0; i < times; i++) this.onEnobufs();
      if (!this.warned) {
        this.warned = true;
        const size = this.receiveBuffer;
        const capped = size < this.rmem ? ` (asked for ${this.rmem}: net.core.rmem_max caps it without CAP_NET_ADMIN)` : '';
        this.log.warn(
          `NFLOG group ${this.group}: the kernel dropped packets: the receive buffer of ${size} bytes${capped} was full; a larger rmem absorbs longer bursts`,
        );
      }
      return;
    }
    const what = errno === E.EMSGSIZE ? 'a datagram larger than the read space was lost' : `receive error ${errnoName(errno)}`;
    this.log.error(`NFLOG group ${this.group}: ${what}${times > 1 ? ` (${times} times)` : ''}`);
  }
}

function errnoName(errno: number): string {
  return Object.entries(os.constants.errno).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
}

function describeErrno(errno: number, group: number): string {
  const E = os.constants.errno;
  const bound = `NFLOG group ${group} is already bound by another process (is ulogd or another specter running?)`;
  if (errno === E.EBUSY || errno === E.EEXIST) return bound;
  // The kernel answers EPERM both to a group bound elsewhere and to a caller without CAP_NET_ADMIN.
  if (errno === E.EPERM || errno === E.EACCES) return process.getuid?.() === 0 ? bound : `binding NFLOG group ${group} needs root or CAP_NET_ADMIN`;
  if (errno === E.ENOENT) return `NFLOG group ${group} is not bound`;
  return `kernel error ${errnoName(errno)}`;
}
