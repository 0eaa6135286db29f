/**
 * PCAP: packets into pcap files that tcpdump, tshark and Wireshark read.
 * One write per batch; optional rotation by size and/or time.
 */
import fs from 'node:fs';
import { FileSink, defineOutput } from 'specter/plugin';
import { globalHeader, LINKTYPE_NFLOG, LINKTYPE_RAW } from './pcap-format.js';
import { RecordWriter } from './writer.js';

const MAX_DELAY_MS = 100;

export default defineOutput({
  name: 'PCAP',
  description: 'packets into pcap files for tcpdump, tshark and Wireshark',
  options: {
    pcapfile: { type: 'string', default: '/var/log/specter.pcap', description: 'file to write' },
    pcapsync: { type: 'bool', default: false, description: 'write every batch at once instead of gathering up to 100 ms' },
    pcaplinktype: {
      type: 'enum',
      default: 'raw',
      values: ['raw', 'nflog'],
      description: 'raw: IP packets (LINKTYPE_RAW); nflog: with prefix, interfaces, uid/gid and mark (LINKTYPE_NFLOG)',
    },
    pcaprotatesize: { type: 'size', default: 0, description: 'start a new file when the current one reaches this size (0 = never)' },
    pcaprotateinterval: { type: 'int', default: 0, min: 0, description: 'start a new file after this many seconds (0 = never)' },
  },
  create(ctx) {
    const path = ctx.options.pcapfile;
    const linktype = ctx.options.pcaplinktype === 'nflog' ? LINKTYPE_NFLOG : LINKTYPE_RAW;
    const header = globalHeader(linktype);
    const rotateSize = ctx.options.pcaprotatesize;
    const rotateMs = ctx.options.pcaprotateinterval * 1000;
    const writer = new RecordWriter(ctx, linktype);
    let fileBytes = 0;
    let openedAt = Date.now();
    let timer: NodeJS.Timeout | null = null;

    const sink = new FileSink({
      path,
      counters: ctx.counters,
      log: ctx.log,
      commit: ctx.commit,
      beforeOpen: (p) => moveAsideIfForeign(p, header, (why, to) => ctx.log.warn(`${p}: ${why}; moved to ${to}, starting a new file`)),
      onOpen: (size, rotated) => {
        // A rotation's file was counted from when it was asked for; after SIGHUP, what is
        // still queued goes to the new file too.
        if (!rotated) {
          openedAt = Date.now();
          fileBytes = (size === 0 ? header.length : size) + sink.queued;
        }
        return size === 0 ? header : undefined;
      },
    });

    // A rotation goes in the queue right after the chunk that crossed the limit, and the
    // count starts over for the chunks behind it: with many chunks queued, each file still
    // ends near the limit, one rotation after the other. A rotation that fails is tried
    // again one rotation later.
    const rotate = () => {
      fileBytes = header.length;
      openedAt = Date.now();
      void sink.rotate(() => freeName(`${path}.${stamp(new Date())}`));
    };

    const writeOut = () => {
      if (timer) {
        clearTimeout(timer);
        timer = null;
      }
      // Records without packet bytes have nothing to write: dropped, settled with the rest of their batch.
      const left = writer.leftOut;
      if (writer.count > 0) {
        const n = writer.count;
        const chunk = writer.take();
        fileBytes += chunk.length;
        sink.write(chunk, n);
        if ((rotateSize > 0 && fileBytes >= rotateSize) || (rotateMs > 0 && Date.now() - openedAt >= rotateMs)) rotate();
      }
      if (left > 0) {
        writer.leftOut = 0;
        ctx.counters.dropped += left;
        ctx.counters.add('nopacket', left);
        sink.settle(left);
      }
    };

    return {
      async start() {
        sink.open();
      },
      write(rec) {
        writer.add(rec);
      },
      endBatch() {
        if (writer.count === 0) {
          if (writer.leftOut > 0) writeOut();
          return;
        }
        if (ctx.options.pcapsync || writer.bytes >= 256 * 1024) writeOut();
        else if (!timer) timer = setTimeout(writeOut, MAX_DELAY_MS);
      },
      async flush() {
        writeOut();
        await sink.flush();
      },
      reopen: () => sink.reopen(),
      busy: () => sink.busy,
      async close() {
        writeOut();
        await sink.close();
      },
    };
  },
});

/** A file is appended to only when its global header is ours; anything else is moved aside. */
function moveAsideIfForeign(p: string, header: Buffer, report: (why: string, to: string) => void): void {
  let fd: number;
  try {
    fd = fs.openSync(p, 'r');
  } catch {
    return; // no file yet
  }
  const head = Buffer.alloc(header.length);
  const n = fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  if (n === 0 || head.equals(header)) return;
  const why =
    n < header.length
      ? 'too short for a pcap header'
      : head.readUInt32LE(0) !== 0xa1b2c3d4
        ? 'not a pcap file of this byte order'
        : `pcap header differs (link type ${head.readUInt32LE(20)}, snaplen ${head.readUInt32LE(16)})`;
  const to = freeName(`${p}.${stamp(new Date())}`, '.old');
  fs.renameSync(p, to);
  report(why, to);
}

function stamp(d: Date): string {
  const z = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}${z(d.getMonth() + 1)}${z(d.getDate())}-${z(d.getHours())}${z(d.getMinutes())}${z(d.getSeconds())}`;
}

/** `base` + `suffix`, or `base.1` + `suffix`, `base.2` + `suffix`, ...: the first name no file has. */
function freeName(base: string, suffix = ''): string {
  let name = base + suffix;
  for (let n = 1; fs.existsSync(name); n++) name = `${base}.${n}${suffix}`;
  return name;
}
