/**
 * source NATS: a group block that reads records forwarded by sensors (the
 * NATS output) from a JetStream durable consumer instead of a kernel NFLOG
 * group. See README.md and doc/forwarding.md; the running part is collector.ts.
 */
import { defineSource } from 'specter/plugin';
import { checkConnectionOptions, NATS_CONNECTION_OPTIONS } from '../../shared/forward/nats-options.js';
import { Collector } from './collector.js';

export default defineSource({
  name: 'NATS',
  description: 'records forwarded by sensors, from a JetStream durable consumer',
  options: {
    ...NATS_CONNECTION_OPTIONS,
    natsdurable: { type: 'string', default: 'specter', description: 'durable consumer name; collectors with the same name share the records' },
    natssubjects: { type: 'string', default: 'specter.>', description: 'subjects of the stream (comma-separated), when the collector creates it' },
    natsbatch: { type: 'int', default: 500, min: 1, max: 10000, description: "messages (runs of one sensor's records) fetched at once, at most" },
    natsmaxpending: {
      type: 'int',
      default: 10000,
      min: 1,
      max: 1000000,
      description: 'records delivered to the outputs and not yet settled, at most: a slow output leaves the rest in the stream',
    },
    natsackwait: {
      type: 'int',
      default: 60,
      min: 1,
      max: 86400,
      description: 'seconds JetStream waits for an acknowledgement before it delivers a record again',
    },
    natsdupwindow: { type: 'int', default: 120, min: 1, max: 86400 * 7, description: 'seconds in which the stream stores a record sent twice once' },
    natsmaxage: { type: 'int', default: 7 * 86400, min: 0, description: 'seconds the stream keeps a record (0: no limit)' },
    natsmaxbytes: { type: 'size', default: 10 * 1024 ** 3, min: 0, description: 'bytes the stream keeps, oldest records removed past it (0: no limit)' },
    natsreplicas: { type: 'int', default: 1, min: 1, max: 5, description: 'copies of the stream in a NATS cluster' },
  },
  produces: [
    { name: 'sensor.name', type: 'string', description: 'name of the sensor that logged the record (its global sensor option)' },
    { name: 'sensor.seq', type: 'u64', description: "the sensor's sequence number of the record, increasing across its restarts" },
    { name: 'sensor.group', type: 'u16', description: 'the group of the sensor that logged the record' },
  ],
  inputKeys: true,
  describe: (o) => `NATS ${o.natsurl} stream ${o.natsstream} durable ${o.natsdurable} batch=${o.natsbatch} maxpending=${o.natsmaxpending}`,
  create(ctx) {
    const o = ctx.options;
    checkConnectionOptions(o, ctx.fail);
    if (!/^[A-Za-z0-9_-]+$/.test(o.natsdurable)) ctx.fail('a durable name has only letters, digits, - and _', 'natsdurable');
    const subjects = o.natssubjects
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
    if (!subjects.length) ctx.fail('names no subject', 'natssubjects');
    return new Collector(
      ctx,
      {
        stream: o.natsstream,
        subjects,
        duplicateWindowS: o.natsdupwindow,
        maxAgeS: o.natsmaxage,
        maxBytes: o.natsmaxbytes || -1,
        replicas: o.natsreplicas,
        durable: o.natsdurable,
        batch: o.natsbatch,
        maxPending: o.natsmaxpending,
        ackWaitS: o.natsackwait,
      },
      ctx.log,
    );
  },
});
