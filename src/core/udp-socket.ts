/**
 * A connected UDP socket that hands many datagrams to the kernel per system
 * call (the addon's UdpSocket: sendmmsg, and UDP segmentation offload for runs
 * of datagrams of one length), for outputs that send datagrams in batches.
 */
import dns from 'node:dns/promises';
import net from 'node:net';
import util from 'node:util';
import { loadUdpAddon, type NativeUdpSocket } from '../netlink/addon.js';

export type SendResult = { sent: number; error?: undefined } | { sent: 0; error: NodeJS.ErrnoException };

export class UdpSocket {
  private constructor(private readonly native: NativeUdpSocket) {}

  /**
   * Resolves `host` (over IPv6 only when it is an IPv6 address) and connects;
   * `onWritable` runs once after a send found the socket's buffer full, when it has room.
   */
  static async connect(host: string, port: number, onWritable: () => void): Promise<UdpSocket> {
    const { address } = net.isIP(host) ? { address: host } : await dns.lookup(host, { family: 4 });
    const Native = loadUdpAddon();
    return new UdpSocket(new Native(address, port, onWritable));
  }

  /**
   * Sends datagrams[from..] in order: how many the kernel took, or, when
   * datagrams[from] could not go, the error (EAGAIN: the buffer is full and
   * onWritable will run; any other: that datagram is lost, the next may go).
   */
  send(datagrams: Buffer[], from = 0): SendResult {
    const r = this.native.send(datagrams, from);
    if (r >= 0) return { sent: r };
    const code = util.getSystemErrorName(r);
    const error: NodeJS.ErrnoException = new Error(`send ${code}`);
    error.code = code;
    error.errno = r;
    return { sent: 0, error };
  }

  /** The MTU of the route to the peer, as the kernel knows it now; null when it cannot tell. */
  mtu(): number | null {
    const r = this.native.mtu();
    return r > 0 ? r : null;
  }

  close(): void {
    this.native.close();
  }
}
