/**
 * NATS: forwards every record of the group to a NATS JetStream stream, for a
 * collector (a group with `source NATS`) to rebuild. See README.md and
 * doc/forwarding.md; the running part is forwarder.ts.
 */
import path from 'node:path';
import { defineOutput } from 'specter/plugin';
import { checkConnectionOptions, NATS_CONNECTION_OPTIONS } from '../../shared/forward/nats-options.js';
import { lastSeq } from '../../shared/forward/record-codec.js';
import { isDerivedKey } from '../../shared/packet/derived.js';
import { Forwarder } from './forwarder.js';
import { Sequence } from './sequence.js';
import { Spool } from './spool.js';

export default defineOutput({
  name: 'NATS',
  description: 'forwards records to a NATS JetStream stream, spooling on disk until acknowledged',
  options: {
    ...NATS_CONNECTION_OPTIONS,
    natssubject: { type: 'string', default: 'specter.$sensor.$group', description: 'subject of the records; $sensor and $group are replaced' },
    natsinflight: {
      type: 'int',
      default: 256,
      min: 1,
      max: 65536,
      description: 'messages (of up to 64 KiB of records each) published and not yet acknowledged, at most',
    },
    natstimeout: {
      type: 'int',
      default: 5000,
      min: 100,
      max: 600000,
      description: "milliseconds to wait for JetStream's acknowledgement before sending again",
    },
    natsraw: { type: 'bool', default: true, description: 'forward the packet bytes (raw.pkt, raw.mac), which PCAP and LOGEMU need at the collector' },
    natsheaders: {
      type: 'bool',
      default: false,
      description:
        'forward the keys BASE reads from the packet bytes (ip.*, tcp.*, udp.*, ..., mac.str, mac.daddr, the MAC addresses as text) too; by default the collector makes them from raw.pkt and raw.mac, as BASE does (with natsraw off they are always forwarded)',
    },
    spooldir: {
      type: 'string',
      default: '/var/lib/specter/spool',
      description: "directory of the spool (one subdirectory per group) and of the sensor's sequence number",
    },
    spoolmax: {
      type: 'size',
      default: 1024 ** 3,
      min: 64 * 1024,
      description: 'bytes the spool may hold; past it records are diverted to dropto or counted as dropped',
    },
    spoolsync: { type: 'int', default: 100, min: 1, max: 60000, description: 'milliseconds between fsyncs of the spool (what a power loss can cost)' },
    highwater: { type: 'size', min: 64 * 1024, description: 'spool bytes from which records go to dropto (or are dropped); default spoolmax' },
    lowwater: { type: 'size', min: 0, description: 'spool bytes under which records go to the spool again; default 3/4 of highwater' },
    dropto: { type: 'string', description: 'output of this group that gets the records diverted past highwater (e.g. LOGEMU); it gets no others' },
  },
  create(ctx) {
    const o = ctx.options;
    checkConnectionOptions(o, ctx.fail);
    const spoolmax = o.spoolmax;
    const highwater = o.highwater ?? spoolmax;
    if (highwater > spoolmax) ctx.fail(`${highwater} is above spoolmax (${spoolmax})`, 'highwater');
    const lowwater = o.lowwater ?? Math.floor((highwater * 3) / 4);
    if (lowwater >= highwater) ctx.fail(`${lowwater} is not below highwater (${highwater})`, 'lowwater');
    const subject = o.natssubject.replaceAll('$sensor', ctx.sensor).replaceAll('$group', String(ctx.group));
    if (!/^[^\s.*>]+(\.[^\s.*>]+)*$/.test(subject)) ctx.fail(`"${subject}" is not a subject to publish on (no wildcards, no empty tokens)`, 'natssubject');
    const drop = o.dropto !== undefined ? ctx.divertTo(o.dropto, 'dropto') : null;
    const raw = o.natsraw;
    const produced = ctx.producedKeys();
    const has = (name: string) => produced.some((k) => k.name === name);
    // These keys are functions of raw.pkt, raw.mac and a few others: the collector makes them itself, so the sensor neither decodes nor sends them.
    const derivedOmitted = raw && !o.natsheaders && has('raw.pkt') && has('raw.mac') && has('oob.family');
    const keys = produced
      .filter((k) => raw || (k.name !== 'raw.pkt' && k.name !== 'raw.mac'))
      .filter((k) => !(derivedOmitted && isDerivedKey(k.name)))
      .map((k) => ctx.optionalKey(k.name)!);
    const slots = keys.reduce((m, k) => Math.max(m, k.slot + 1), 0);
    if (ctx.checkOnly) {
      return { write() {}, endBatch() {}, async flush() {}, async close() {} };
    }
    // The spool of this group (and instance), and the sensor's sequence shared by all groups.
    const dir = path.join(o.spooldir, ctx.name === 'NATS' ? `group-${ctx.group}` : `group-${ctx.group}-${ctx.name.split('#')[1]}`);
    let spool: Spool;
    let seq: Sequence;
    try {
      seq = Sequence.for(o.spooldir);
      spool = new Spool(dir, lastSeq);
    } catch (err) {
      return ctx.fail(`cannot open the spool: ${(err as Error).message}`, 'spooldir');
    }
    seq.atLeast(spool.lastSeqAtOpen);
    if (spool.torn) ctx.log.warn(`${ctx.name}: cut a torn record off the end of the spool in ${dir}`);
    if (spool.bytes) ctx.log.info(`${ctx.name}: ${spool.bytes} bytes of records wait in the spool from the last run`);
    return new Forwarder(
      ctx,
      {
        subject,
        inflight: o.natsinflight,
        timeoutMs: o.natstimeout,
        syncMs: o.spoolsync,
        highwater,
        lowwater,
        derivedOmitted,
      },
      spool,
      seq,
      keys,
      slots,
      ctx.sensor,
      drop,
    );
  },
});
