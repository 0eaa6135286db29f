/**
 * source NFCT: a group block that makes flow records from the kernel's
 * connection tracking (conntrack events, or table dumps every
 * ctpollinterval seconds) instead of reading an NFLOG group. See README.md
 * and doc/flows.md; the running part is source.ts.
 */
import { defineSource } from 'specter/plugin';
import { FlowFiller } from './fill.js';
import { FlowFilter } from './filter.js';
import { NFCT_KEYS } from './keys.js';
import type { EventName } from './socket.js';
import { NfctSource } from './source.js';

const EVENTS: readonly EventName[] = ['new', 'update', 'destroy'];
/** Each filter's field in FlowFilterSpec and its option. */
const FILTERS = [
  ['src', 'ctsrcfilter'],
  ['dst', 'ctdstfilter'],
  ['proto', 'ctprotofilter'],
  ['mark', 'ctmarkfilter'],
] as const;

/** "new,destroy" → the set; throws naming the bad word. */
export function parseEvents(text: string): Set<EventName> {
  const out = new Set<EventName>();
  for (const w of text
    .split(/[\s,]+/)
    .map((x) => x.trim().toLowerCase())
    .filter(Boolean)) {
    if (!(EVENTS as readonly string[]).includes(w)) throw new Error(`"${w}" is no conntrack event (new, update, destroy)`);
    out.add(w as EventName);
  }
  if (out.size === 0) throw new Error('names no event (new, update, destroy)');
  return out;
}

export default defineSource({
  name: 'NFCT',
  description: "flow records from the kernel's connection tracking (conntrack events or table dumps)",
  options: {
    ctevents: {
      type: 'string',
      default: 'destroy',
      description: 'which events make a record, comma-separated: new, update, destroy (default: destroy, one record per flow at its end)',
    },
    ctreliable: {
      type: 'bool',
      default: false,
      description:
        'the kernel keeps and resends destroy events a full socket could not take (NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS) instead of dropping them',
    },
    ctpollinterval: {
      type: 'int',
      default: 0,
      min: 0,
      max: 86400,
      description: 'seconds between dumps of the whole table, one record per flow with its counters so far; 0 (default): events',
    },
    ctreaddelay: {
      type: 'int',
      default: 100,
      min: 0,
      max: 1000,
      description:
        'milliseconds events may wait in the receive buffer after a quiet spell before they are read (less once they take an eighth of it), so that they are read and sent in large batches (only with an rmem of 4 MiB or more); 0: read at once',
    },
    ctsrcfilter: { type: 'string', description: 'only flows whose original source is in these ranges (comma-separated, IPv4 or IPv6, optionally /prefix)' },
    ctdstfilter: { type: 'string', description: 'only flows whose original destination is in these ranges' },
    ctprotofilter: { type: 'string', description: 'only flows of these protocols (comma-separated names or numbers: tcp, udp, icmp, icmpv6, sctp, 47, ...)' },
    ctmarkfilter: { type: 'string', description: 'only flows with this connection mark, optionally under a mask (42, 0x10/0xf0)' },
  },
  produces: NFCT_KEYS,
  describe: (o) =>
    `NFCT ${o.ctpollinterval ? `poll every ${o.ctpollinterval} s` : `events=${o.ctevents} reliable=${o.ctreliable ? 'on' : 'off'}`}` +
    FILTERS.filter(([, k]) => o[k] !== undefined)
      .map(([, k]) => ` ${k}=${o[k]}`)
      .join(''),
  create(ctx) {
    const o = ctx.options;
    let events: Set<EventName> = new Set();
    try {
      events = parseEvents(o.ctevents);
    } catch (err) {
      ctx.fail((err as Error).message, 'ctevents');
    }
    // Each filter is parsed alone first, so an error names its own option.
    for (const [field, option] of FILTERS) {
      try {
        new FlowFilter({ [field]: o[option] });
      } catch (err) {
        ctx.fail((err as Error).message, option);
      }
    }
    const filter = new FlowFilter({ src: o.ctsrcfilter, dst: o.ctdstfilter, proto: o.ctprotofilter, mark: o.ctmarkfilter });
    const filler = new FlowFiller((name) => ctx.want(name));
    return new NfctSource(
      {
        events,
        reliable: o.ctreliable,
        pollInterval: o.ctpollinterval,
        rmem: ctx.rmem,
        filter,
        readDelay: o.ctreaddelay,
      },
      filler,
      ctx.counters,
      ctx.log,
    );
  },
});
