import os from 'node:os';
import { defineInput } from 'specter/plugin';

export default defineInput({
  name: 'LOCAL',
  description: 'local receive time and host name',
  options: {
    fqdn: { type: 'bool', default: false, description: 'keep the full host name instead of the part before the first dot' },
  },
  produces: [
    { name: 'local.time', type: 'time', description: 'time the packet was processed, ms since the epoch' },
    { name: 'local.hostname', type: 'string', description: "this host's name" },
  ],
  create(ctx) {
    const time = ctx.want('local.time');
    const host = ctx.want('local.hostname');
    const full = os.hostname();
    const name = ctx.options.fqdn ? full : full.split('.')[0];
    return {
      process(_pkt, rec) {
        if (time) rec.set(time, Date.now());
        if (host) rec.set(host, name);
      },
    };
  },
});
