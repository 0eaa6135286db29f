/**
 * Test input plugin, loaded by path like a third-party module: it produces
 * the conntrack keys (named as ulogd2 names them) from the flows a test
 * queues, one flow per packet the pipeline hands it.
 */
import { type KeyDef, defineInput } from 'specter/plugin';

export interface Flow {
  family: 4 | 6;
  /** Absent: a record that is no IP flow. */
  saddr?: string;
  daddr: string;
  protocol: number;
  sport?: number;
  dport?: number;
  /** The reply tuple: source and destination as the kernel's reply direction has them. */
  rsaddr: string;
  rdaddr: string;
  rsport?: number;
  rdport?: number;
  pkts: number;
  bytes: number;
  rpkts: number;
  rbytes: number;
  /** Milliseconds since the epoch. */
  start: number;
  end: number;
  icmpType?: number;
  icmpCode?: number;
  id: number;
  mark: number;
}

const FLOW_KEYS: readonly KeyDef[] = [
  { name: 'oob.family', type: 'u8' },
  { name: 'orig.ip.saddr', type: 'ipaddr' },
  { name: 'orig.ip.daddr', type: 'ipaddr' },
  { name: 'orig.ip.protocol', type: 'u8' },
  { name: 'orig.l4.sport', type: 'u16' },
  { name: 'orig.l4.dport', type: 'u16' },
  { name: 'orig.raw.pktlen', type: 'u64' },
  { name: 'orig.raw.pktcount', type: 'u64' },
  { name: 'reply.ip.saddr', type: 'ipaddr' },
  { name: 'reply.ip.daddr', type: 'ipaddr' },
  { name: 'reply.ip.protocol', type: 'u8' },
  { name: 'reply.l4.sport', type: 'u16' },
  { name: 'reply.l4.dport', type: 'u16' },
  { name: 'reply.raw.pktlen', type: 'u64' },
  { name: 'reply.raw.pktcount', type: 'u64' },
  { name: 'icmp.type', type: 'u8' },
  { name: 'icmp.code', type: 'u8' },
  { name: 'ct.mark', type: 'u32' },
  { name: 'ct.id', type: 'u32' },
  { name: 'flow.start.sec', type: 'u32' },
  { name: 'flow.start.usec', type: 'u32' },
  { name: 'flow.end.sec', type: 'u32' },
  { name: 'flow.end.usec', type: 'u32' },
];

/** Flows waiting for the next packets, oldest first. */
export const queued: Flow[] = [];

function addr(s: string): number | Uint8Array {
  if (!s.includes(':')) return s.split('.').reduce((n, p) => n * 256 + Number(p), 0);
  const halves = s.split('::');
  const words = (h: string) => (h ? h.split(':').map((w) => parseInt(w, 16)) : []);
  const head = words(halves[0]);
  const tail = halves.length > 1 ? words(halves[1]) : [];
  const all = [...head, ...new Array(8 - head.length - tail.length).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((w, i) => {
    b[2 * i] = w >> 8;
    b[2 * i + 1] = w & 0xff;
  });
  return b;
}

export default defineInput({
  name: 'TESTFLOWS',
  description: 'conntrack keys from queued test flows',
  options: {},
  produces: FLOW_KEYS,
  create(ctx) {
    const set = new Map(FLOW_KEYS.map((k) => [k.name, ctx.want(k.name)]));
    return {
      process(_pkt, rec) {
        const f = queued.shift();
        if (!f) return;
        const put = (name: string, v: unknown) => {
          const k = set.get(name);
          if (k && v !== undefined) rec.set(k, v);
        };
        put('oob.family', f.family === 4 ? 2 : 10);
        if (f.saddr !== undefined) put('orig.ip.saddr', addr(f.saddr));
        put('orig.ip.daddr', addr(f.daddr));
        put('orig.ip.protocol', f.protocol);
        put('orig.l4.sport', f.sport);
        put('orig.l4.dport', f.dport);
        put('orig.raw.pktcount', BigInt(f.pkts));
        put('orig.raw.pktlen', BigInt(f.bytes));
        put('reply.ip.saddr', addr(f.rsaddr));
        put('reply.ip.daddr', addr(f.rdaddr));
        put('reply.ip.protocol', f.protocol);
        put('reply.l4.sport', f.rsport);
        put('reply.l4.dport', f.rdport);
        put('reply.raw.pktcount', BigInt(f.rpkts));
        put('reply.raw.pktlen', BigInt(f.rbytes));
        put('icmp.type', f.icmpType);
        put('icmp.code', f.icmpCode);
        put('ct.mark', f.mark);
        put('ct.id', f.id);
        put('flow.start.sec', Math.floor(f.start / 1000));
        put('flow.start.usec', (f.start % 1000) * 1000 + 123);
        put('flow.end.sec', Math.floor(f.end / 1000));
        put('flow.end.usec', (f.end % 1000) * 1000 + 456);
      },
    };
  },
});
