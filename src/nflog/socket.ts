/**
 * A NETLINK_NETFILTER socket for one NFLOG group: configuration requests
 * with acknowledgements, datagrams in, and ENOBUFS (the kernel dropped
 * datagrams because our receive buffer was full) counted and reported.
 *
 * The receive buffer is set to `rmem` at once, with SO_RCVBUFFORCE where the
 * process may (see scripts/patch-netlink.cjs): it is a limit, not an
 * allocation, and a burst that fits in it is read later instead of lost.
 */
// The package's index loads every netlink family it knows; the raw socket is all specter needs.
import { RawNetlinkSocket } from 'netlink/dist/raw.js';
import os from 'node:os';
import type { Logger } from 'pino';
import { encodeConfig } from './codec.js';
import { NETLINK_NETFILTER } from './constants.js';

const ACK_TIMEOUT_MS = 3000;

export class NflogSocket {
  private readonly sock: RawNetlinkSocket;
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
    this.sock = new RawNetlinkSocket(NETLINK_NETFILTER, { recvBufferSize: 0, sendBufferSize: 0 });
    // The kernel stores twice the asked size (its bookkeeping overhead) and reports that.
    this.sock.setRecvBufferSize(Math.max(1, Math.floor(rmem / 2)));
    // An exception must never travel back into the native addon: it would abort the process.
    this.sock.on('message', (buf: Buffer) => {
      try {
        onDatagram(buf);
      } catch (err) {
        this.log.error({ err }, `NFLOG group ${this.group}: failed on a datagram`);
      }
    });
    this.sock.on('error', (err) => {
      try {
        this.onError(err);
      } catch (e) {
        this.log.error({ err: e }, `NFLOG group ${this.group}: failed on a socket error`);
      }
    });
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
      this.sock.send(msg, { port: 0 }, (err) => {
        if (err) this.settle(seq, (err as { errno?: number }).errno ?? 1);
      });
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
    (this.sock as unknown as { __native: { setPaused(on: boolean): void } }).__native.setPaused(on);
  }

  get receiveBuffer(): number {
    return this.sock.getRecvBufferSize();
  }

  close(): void {
    for (const p of this.pending.values()) clearTimeout(p.timer);
    this.pending.clear();
    this.sock.close();
  }

  private onError(err: { errno?: number; code?: string; message: string }): void {
    if (err.code === 'ENOBUFS' || err.errno === os.constants.errno.ENOBUFS) {
      this.onEnobufs();
      if (!this.warned) {
        this.warned = true;
        const size = this.receiveBuffer;
        const capped = size < this.rmem ? ` (asked for ${this.rmem}: net.core.rmem_max caps it without CAP_NET_ADMIN)` : '';
        this.log.warn(`NFLOG group ${this.group}: the kernel dropped packets: the receive buffer of ${size} bytes${capped} was full; a larger rmem absorbs longer bursts`);
      }
      return;
    }
    this.log.error({ code: err.code }, `NFLOG group ${this.group}: socket error: ${err.message}`);
  }
}

function describeErrno(errno: number, group: number): string {
  const E = os.constants.errno;
  const bound = `NFLOG group ${group} is already bound by another process (is ulogd or another specter running?)`;
  if (errno === E.EBUSY || errno === E.EEXIST) return bound;
  // The kernel answers EPERM both to a group bound elsewhere and to a caller without CAP_NET_ADMIN.
  if (errno === E.EPERM || errno === E.EACCES) return process.getuid?.() === 0 ? bound : `binding NFLOG group ${group} needs root or CAP_NET_ADMIN`;
  if (errno === E.ENOENT) return `NFLOG group ${group} is not bound`;
  const name = Object.entries(E).find(([, v]) => v === errno)?.[0] ?? `errno ${errno}`;
  return `kernel error ${name}`;
}
