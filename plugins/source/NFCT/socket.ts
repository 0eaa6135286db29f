/**
 * The conntrack sockets: one joined to the multicast groups of the chosen
 * events, and one per table dump (the dump's answer goes to the asking
 * socket only, so it never mixes with events). Both read through the
 * in-tree netlink addon; the receive buffer is `rmem`, with SO_RCVBUFFORCE
 * where the process may.
 */
import { NetlinkSocket, NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS, type NetlinkHandlers } from 'specter/plugin';
import { encodeDump } from './codec.js';
import { NFNLGRP_CONNTRACK_DESTROY, NFNLGRP_CONNTRACK_NEW, NFNLGRP_CONNTRACK_UPDATE } from './constants.js';

const NETLINK_NETFILTER = 12;

/**
 * An event is a datagram of a few hundred bytes. A dump's datagram is as
 * large as the reads of its socket (the kernel sizes dump buffers by the
 * largest read it saw, up to 32 KiB), so 16 KiB each: 64 go in one system call
 * (NFLOG's 256 KiB take 5), and a wake-up takes up to 1,024 of them. The decoder
 * copies what it keeps out of a datagram, so every wake-up reuses one buffer.
 */
const READ = { maxDatagram: 16 * 1024, maxBatch: 1024, shared: true };

export type EventName = 'new' | 'update' | 'destroy';

const GROUP: { [e in EventName]: number } = {
  new: NFNLGRP_CONNTRACK_NEW,
  update: NFNLGRP_CONNTRACK_UPDATE,
  destroy: NFNLGRP_CONNTRACK_DESTROY,
};

/** bind()'s group bitmask for the events. */
function groupMask(events: Iterable<EventName>): number {
  let mask = 0;
  for (const e of events) mask |= 1 << (GROUP[e] - 1);
  return mask;
}

/**
 * An event socket. With `reliable`, NETLINK_BROADCAST_ERROR makes the kernel
 * see a full socket as a failed delivery (it keeps a destroyed entry and
 * sends its event again) and NETLINK_NO_ENOBUFS stops the ENOBUFS report,
 * as ulogd2's `reliable` and conntrack -E's do.
 */
export function openEvents(events: Iterable<EventName>, rmem: number, reliable: boolean, handlers: NetlinkHandlers): NetlinkSocket {
  const sock = new NetlinkSocket(NETLINK_NETFILTER, handlers, READ);
  try {
    // The kernel stores twice the asked size (its bookkeeping overhead) and reports that.
    sock.setReceiveBuffer(rmem / 2);
    if (reliable) {
      sock.setOption(NETLINK_BROADCAST_ERROR, 1);
      sock.setOption(NETLINK_NO_ENOBUFS, 1);
    }
    sock.bind(groupMask(events));
  } catch (err) {
    sock.close();
    throw err;
  }
  return sock;
}

/** A socket that asks for the whole table once; returns the socket (closed by the caller at NLMSG_DONE) and the errno of the send. */
export function openDump(rmem: number, seq: number, handlers: NetlinkHandlers): { sock: NetlinkSocket; errno: number } {
  const sock = new NetlinkSocket(NETLINK_NETFILTER, handlers, READ);
  try {
    sock.setReceiveBuffer(rmem / 2);
    sock.bind(0);
  } catch (err) {
    sock.close();
    throw err;
  }
  return { sock, errno: sock.send(encodeDump(seq)) };
}
