/**
 * Runs inside a test's network namespace: drives the netlink addon directly
 * through one scenario and prints what it saw as one JSON line.
 *
 *   node dist/test/netlink/probe.js SCENARIO GROUP PORT
 */
import dgram from 'node:dgram';
import os from 'node:os';
import { NetlinkSocket, type NetlinkOptions } from '../../src/netlink/socket.js';
import { Packet } from '../../src/core/packet.js';
import { cfg, decodeDatagram, encodeConfig } from '../../src/nflog/codec.js';
import { AF_UNSPEC, CFG_FLAG, CMD, COPY_MODE, NETLINK_NETFILTER, NFULA_CFG } from '../../src/nflog/constants.js';

const [scenario, groupArg, portArg] = process.argv.slice(2);
const group = Number(groupArg);
const port = Number(portArg);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Seen {
  packets: number;
  seqGaps: number;
  datagrams: Buffer[];
  /** Datagrams per call from native code. */
  batches: number[];
  enobufs: number;
  emsgsize: number;
  failures: string[];
}

/** Opens a socket bound to `group`, one packet per datagram, sequence numbers on. */
async function open(rcvbuf: number, onDatagram?: (buf: Buffer, seen: Seen) => void, options?: NetlinkOptions) {
  const seen: Seen = { packets: 0, seqGaps: 0, datagrams: [], batches: [], enobufs: 0, emsgsize: 0, failures: [] };
  const pkt = new Packet();
  const stats = { packets: 0, malformed: 0 };
  const acks = new Map<number, number>();
  let lastSeq = -1;
  let current = 0;
  const sock = new NetlinkSocket(
    NETLINK_NETFILTER,
    {
      datagram(buf) {
        // Datagrams of one call from native code arrive with no microtask in between.
        if (current++ === 0)
          queueMicrotask(() => {
            seen.batches.push(current);
            current = 0;
          });
        seen.datagrams.push(buf);
        decodeDatagram(
          buf,
          pkt,
          (p) => {
            seen.packets++;
            if (lastSeq >= 0) seen.seqGaps += p.seqLocal - lastSeq - 1;
            lastSeq = p.seqLocal;
          },
          stats,
          (seq, errno) => acks.set(seq, errno),
        );
        onDatagram?.(buf, seen);
      },
      error(errno, times) {
        if (errno === os.constants.errno.ENOBUFS) seen.enobufs += times;
        else if (errno === os.constants.errno.EMSGSIZE) seen.emsgsize += times;
        else seen.failures.push(`errno ${errno}`);
      },
      failed(err) {
        seen.failures.push((err as Error).message);
      },
    },
    options,
  );
  sock.setReceiveBuffer(rcvbuf);
  sock.bind(0);
  let seq = 1;
  const request = async (attrs: Array<[number, Buffer]>) => {
    const s = ++seq;
    const errno = sock.send(encodeConfig(s, AF_UNSPEC, group, attrs));
    if (errno !== 0) throw new Error(`send: errno ${errno}`);
    for (let i = 0; i < 100 && !acks.has(s); i++) await sleep(10);
    if (acks.get(s) !== 0) throw new Error(`config: errno ${acks.get(s)}`);
  };
  await request([cfg.cmd(CMD.BIND)]);
  await request([cfg.mode(COPY_MODE.packet, 0xffff), cfg.u32(NFULA_CFG.QTHRESH, 1), cfg.flags(CFG_FLAG.SEQ)]);
  return { sock, seen };
}

let udp: dgram.Socket | null = null;
async function send(n: number, bytes = 0): Promise<void> {
  udp ??= dgram.createSocket('udp4');
  for (let i = 0; i < n; i++)
    await new Promise<void>((r) => udp!.send(bytes ? Buffer.alloc(bytes, 'x') : Buffer.from(`packet ${i}`), port, '127.0.0.1', () => r()));
}
async function until(check: () => boolean, ms = 5000): Promise<void> {
  for (const end = Date.now() + ms; !check() && Date.now() < end; ) await sleep(10);
}

const scenarios: Record<string, () => Promise<object>> = {
  /** Receives, pauses (nothing is read, the kernel keeps it), resumes (read in batches). */
  async pause() {
    const { sock, seen } = await open(1 << 20);
    const rcvbuf = sock.receiveBuffer;
    await send(50);
    await until(() => seen.packets >= 50);
    const before = seen.packets;
    sock.pause(true);
    await send(200);
    await sleep(300);
    const whilePaused = seen.packets - before;
    sock.pause(false);
    await until(() => seen.packets >= 250);
    // Views handed out earlier must still hold their bytes after later reads.
    const first = Buffer.from(seen.datagrams[0]);
    const copies = seen.datagrams.slice(0, 10).map((d) => Buffer.from(d));
    await send(20);
    await until(() => seen.packets >= 270);
    const intact = seen.datagrams.slice(0, 10).every((d, i) => d.equals(copies[i])) && seen.datagrams[0].equals(first);
    sock.close();
    return { before, whilePaused, after: seen.packets, maxBatch: Math.max(...seen.batches), intact, rcvbuf, failures: seen.failures };
  },
  /**
   * A socket that reads small datagrams (4 KiB each, up to 256 a wake-up): a
   * backlog comes in wake-ups of more than 64, in order, and a datagram too
   * large for the read size is reported as EMSGSIZE without losing the next.
   */
  async sized() {
    const { sock, seen } = await open(1 << 20, undefined, { maxDatagram: 4096, maxBatch: 256 });
    sock.pause(true);
    await send(300);
    sock.pause(false);
    await until(() => seen.packets >= 300);
    const backlog = { packets: seen.packets, seqGaps: seen.seqGaps, maxBatch: Math.max(...seen.batches) };
    await send(1, 6000);
    await send(5);
    await until(() => seen.packets >= 305);
    await sleep(100);
    sock.close();
    return { backlog, packets: seen.packets, seqGaps: seen.seqGaps, emsgsize: seen.emsgsize, failures: seen.failures };
  },
  /** A flood into a small buffer while paused: ENOBUFS counted, reading goes on. */
  async enobufs() {
    const { sock, seen } = await open(4096);
    const rcvbuf = sock.receiveBuffer;
    sock.pause(true);
    await send(500);
    // Room again, so that none of the packets after the flood is lost unseen.
    sock.setReceiveBuffer(1 << 20);
    sock.pause(false);
    await sleep(300);
    await send(10);
    await until(() => seen.packets > 0 && seen.packets + seen.seqGaps >= 510);
    sock.close();
    return { rcvbuf, packets: seen.packets, seqGaps: seen.seqGaps, enobufs: seen.enobufs, failures: seen.failures };
  },
  /** A pause from a handler in the middle of a batch holds the rest until reading resumes. */
  async hold() {
    let once = true;
    const { sock, seen } = await open(1 << 20, (_buf, s) => {
      if (s.packets === 10 && once) {
        once = false;
        sock.pause(true);
      }
    });
    sock.pause(true);
    await send(60);
    sock.pause(false);
    await sleep(300);
    const whileHeld = seen.packets;
    sock.pause(false);
    await until(() => seen.packets >= 60);
    await send(5);
    await until(() => seen.packets >= 65);
    sock.close();
    return { whileHeld, after: seen.packets, failures: seen.failures };
  },
  /** A handler that throws does not stop the batch; closing inside a batch ends it. */
  async faults() {
    let closed = false;
    let afterClose = 0;
    const { sock, seen } = await open(1 << 20, (_buf, s) => {
      if (closed) afterClose++;
      if (s.packets === 3) throw new Error('handler failed');
      if (s.packets === 30) {
        sock.close();
        closed = true;
      }
    });
    // All 60 wait in the kernel and come in one batch after resuming: the close falls inside it.
    sock.pause(true);
    await send(60);
    sock.pause(false);
    await sleep(500);
    return { afterClose, packets: seen.packets, failures: seen.failures };
  },
};

// The test runner loads every file under test/ without arguments: then there is nothing to run.
if (scenario !== undefined) {
  const run = scenarios[scenario];
  if (!run) throw new Error(`unknown scenario ${scenario}`);
  run().then(
    (r) => {
      process.stdout.write(JSON.stringify(r) + '\n');
      udp?.close();
    },
    (err) => {
      process.stdout.write(JSON.stringify({ error: (err as Error).message }) + '\n');
      process.exit(1);
    },
  );
}
