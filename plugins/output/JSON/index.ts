/**
 * JSON: one object per packet, newline-delimited, to a file or to a Unix,
 * TCP or UDP peer. Records wait in a bounded buffer while a peer is away.
 */
import { textFileOutput, FileSink, type Key, TextBuffer, defineOutput, parseEndpoint, SocketSink } from 'specter/plugin';
import { JsonEncoder } from '../../shared/json/encoder.js';

export default defineOutput({
  name: 'JSON',
  description: 'newline-delimited JSON to a file or a socket, with specter or Elastic Common Schema field names',
  options: {
    jsonfile: { type: 'string', default: '/var/log/specter.json', description: 'file to append to (or stdout / stderr), when no jsonsocket is given' },
    jsonsync: { type: 'bool', default: false, description: 'write every batch at once instead of gathering up to 100 ms' },
    jsonsocket: { type: 'string', description: 'send to a peer instead: unix:/path, tcp:host:port or udp:host:port' },
    jsonbuffer: { type: 'size', default: 16 * 1024 * 1024, min: 1024, description: 'bytes of records kept while the peer or file is unavailable' },
    jsonfields: {
      type: 'string',
      description: 'comma-separated keys to write (default: every key the group produces except raw bytes and text copies of addresses)',
    },
    jsonnaming: { type: 'enum', default: 'specter', values: ['specter', 'ecs'], description: 'field names: specter keys, or Elastic Common Schema' },
  },
  create(ctx) {
    const o = ctx.options;
    let keys: readonly Key[];
    if (o.jsonfields)
      keys = o.jsonfields
        .split(',')
        .map((n) => n.trim())
        .filter(Boolean)
        .map((n) => ctx.key(n));
    else keys = defaultKeys(ctx.producedKeys()).map((k) => ctx.key(k.name));
    const ecs = o.jsonnaming === 'ecs';
    const optional = (n: string) => (o.jsonfields && !keys.some((k) => k.name === n) ? undefined : ctx.optionalKey(n));
    const encoder = new JsonEncoder(keys, ecs, optional);

    if (o.jsonsocket) {
      const ep = parseEndpoint(o.jsonsocket) ?? ctx.fail('expected unix:/path, tcp:host:port or udp:host:port', 'jsonsocket');
      const sock = new SocketSink(ep, o.jsonbuffer, ctx.counters, ctx.log, ctx.commit);
      const out = new TextBuffer();
      let count = 0;
      return {
        async start() {
          sock.start();
        },
        write(rec) {
          encoder.encode(rec, out);
          // One datagram per record over UDP; streams get one write per batch.
          if (ep.kind === 'udp') sock.send(out.take(), 1);
          else count++;
        },
        endBatch() {
          if (count === 0) return;
          sock.send(out.take(), count);
          count = 0;
        },
        flush: () => sock.flush(),
        async close() {
          await sock.close();
        },
      };
    }

    const sink = new FileSink({ path: o.jsonfile, counters: ctx.counters, log: ctx.log, maxBytes: o.jsonbuffer, commit: ctx.commit });
    return textFileOutput(sink, o.jsonsync, (rec, out) => encoder.encode(rec, out));
  },
});

/** NFCT's counters under the MySQL ulog2_ct column names: copies of these keys. */
const COUNTER_ALIASES: { readonly [name: string]: string } = {
  'orig.bytes': 'orig.raw.pktlen',
  'orig.packets': 'orig.raw.pktcount',
  'reply.bytes': 'reply.raw.pktlen',
  'reply.packets': 'reply.raw.pktcount',
};

/**
 * Every key except packet bytes (raw.pkt, raw.mac, tcp.options: long hex
 * strings nobody searches), the `.str` copies of address keys, which JSON
 * already writes as text, and mac.str, the link header as text, when
 * mac.saddr and mac.daddr carry it, and NFCT's counters under their MySQL
 * names. Name them in jsonfields to have them.
 */
function defaultKeys(all: readonly Key[]): Key[] {
  const names = new Set(all.map((k) => k.name));
  const copy = (n: string) =>
    (n.endsWith('.str') && names.has(n.slice(0, -4))) ||
    (n === 'mac.str' && names.has('mac.saddr') && names.has('mac.daddr')) ||
    (COUNTER_ALIASES[n] !== undefined && names.has(COUNTER_ALIASES[n]));
  return all.filter((k) => k.type !== 'raw' && !copy(k.name));
}
