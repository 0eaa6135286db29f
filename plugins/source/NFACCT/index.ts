/**
 * source NFACCT: a group block that makes one record per kernel accounting
 * object (nfacct, the counters of iptables' `-m nfacct` rules) every
 * pollinterval seconds, as ulogd2's NFACCT input does. See README.md; the
 * running part is source.ts.
 */
import { defineSource } from 'specter/plugin';
import { NfacctSource } from './source.js';

export default defineSource({
  name: 'NFACCT',
  description: 'one record per kernel accounting object (nfacct) every pollinterval seconds',
  options: {
    pollinterval: { type: 'int', default: 60, min: 1, max: 86400, description: 'seconds between two readings of the accounting objects' },
    zerocounter: {
      type: 'bool',
      default: true,
      description: "zero each object's counters as they are read, so a record holds what was counted since the previous one (as ulogd2's zerocounter)",
    },
  },
  produces: [
    { name: 'sum.name', type: 'string', description: 'name of the accounting object' },
    { name: 'sum.pkts', type: 'u64', description: 'packets counted (since the previous reading, with zerocounter)' },
    { name: 'sum.bytes', type: 'u64', description: 'bytes counted (since the previous reading, with zerocounter)' },
    { name: 'oob.time.sec', type: 'u32', description: 'time of the reading, seconds since the epoch' },
    { name: 'oob.time.usec', type: 'u32', description: 'time of the reading, microseconds' },
  ],
  describe: (o) => `NFACCT every ${o.pollinterval} s${o.zerocounter ? ', zeroing' : ''}`,
  create(ctx) {
    const o = ctx.options;
    return new NfacctSource(
      { pollInterval: o.pollinterval, reset: o.zerocounter },
      { name: ctx.want('sum.name'), pkts: ctx.want('sum.pkts'), bytes: ctx.want('sum.bytes'), sec: ctx.want('oob.time.sec'), usec: ctx.want('oob.time.usec') },
      ctx.counters,
      ctx.log,
    );
  },
});
