/**
 * IPFIX: flow records (a conntrack source's keys) exported to a collector
 * as RFC 7011 messages over UDP or TCP, packed to the path MTU.
 */
import net from 'node:net';
import { CommitQueue, defineOutput } from 'specter/plugin';
import { FlowEncoder } from './encoder.js';
import { MessageBuilder } from './message.js';
import { IpfixTransport } from './transport.js';
import { templateSet } from './template.js';

/** IP and transport headers a message travels under, by family and protocol. */
const HEADERS = { udp: 8, tcp: 20 } as const;

export default defineOutput({
  name: 'IPFIX',
  description: 'flow records as IPFIX (RFC 7011) to a collector over UDP or TCP',
  options: {
    ipfixhost: { type: 'string', required: true, description: 'collector address or host name' },
    ipfixport: { type: 'int', default: 4739, min: 1, max: 65535, description: 'collector port' },
    ipfixproto: { type: 'enum', default: 'udp', values: ['udp', 'tcp'], description: 'transport' },
    ipfixdomain: { type: 'int', default: 0, min: 0, max: 0xffffffff, description: 'observation domain id' },
    ipfixmtu: { type: 'int', default: 1500, min: 576, max: 65535, description: 'path MTU: a message and its IP and UDP/TCP headers fit in it' },
    ipfixtemplaterefresh: { type: 'int', default: 60, min: 1, max: 86400, description: 'UDP: seconds between two sendings of the templates' },
    ipfixtemplatepackets: {
      type: 'int',
      default: 20,
      min: 0,
      max: 1000000,
      description: 'UDP: messages between two sendings of the templates (0: by time only)',
    },
    ipfixdelay: {
      type: 'int',
      default: 1000,
      min: 0,
      max: 60000,
      description: 'milliseconds a message that is not full waits, from its first record, for more records before it is sent (0: at the end of each batch)',
    },
    ipfixbuffer: { type: 'size', default: 16 * 1024 * 1024, min: 65536, description: 'bytes of messages kept while the collector is away or slow' },
  },
  create(ctx) {
    const o = ctx.options;
    const opt = (name: string) => ctx.optionalKey(name);
    const encoder = new FlowEncoder({
      origSaddr: ctx.key('orig.ip.saddr'),
      origDaddr: ctx.key('orig.ip.daddr'),
      protocol: opt('orig.ip.protocol'),
      origSport: opt('orig.l4.sport'),
      origDport: opt('orig.l4.dport'),
      replySaddr: opt('reply.ip.saddr'),
      replyDaddr: opt('reply.ip.daddr'),
      replySport: opt('reply.l4.sport'),
      replyDport: opt('reply.l4.dport'),
      origPkts: opt('orig.raw.pktcount'),
      origBytes: opt('orig.raw.pktlen'),
      replyPkts: opt('reply.raw.pktcount'),
      replyBytes: opt('reply.raw.pktlen'),
      startSec: opt('flow.start.sec'),
      startUsec: opt('flow.start.usec'),
      endSec: opt('flow.end.sec'),
      endUsec: opt('flow.end.usec'),
      icmpType: opt('icmp.type'),
      icmpCode: opt('icmp.code'),
      ctId: opt('ct.id'),
      ctMark: opt('ct.mark'),
    });
    const host = o.ipfixhost;
    const proto = o.ipfixproto;
    // A host name goes over IPv4 with UDP (an IPv4 socket resolves it); over TCP it may resolve to IPv6.
    const ipHeader = net.isIPv6(host) || (proto === 'tcp' && !net.isIPv4(host)) ? 40 : 20;
    const maxLen = (mtu: number) => Math.min(65535, mtu - ipHeader - HEADERS[proto]);
    const domain = o.ipfixdomain;
    const builder = new MessageBuilder(maxLen(o.ipfixmtu), domain);
    const commits = new CommitQueue((n) => ctx.commit(n));
    const transport = new IpfixTransport(
      {
        host,
        port: o.ipfixport,
        proto,
        domain,
        templates: templateSet(),
        maxBytes: o.ipfixbuffer,
        refreshMs: o.ipfixtemplaterefresh * 1000,
        refreshMessages: o.ipfixtemplatepackets,
        // A route with a smaller MTU (a tunnel, a VPN) would fragment every message: they are made to fit it.
        onRouteMtu(mtu) {
          if (mtu >= o.ipfixmtu) return;
          const fits = Math.max(576, mtu);
          builder.lower(maxLen(fits));
          ctx.log.info(`IPFIX: the route to ${host} has an MTU of ${mtu}, below ipfixmtu ${o.ipfixmtu}: messages fit ${fits} bytes`);
        },
      },
      ctx.counters,
      ctx.log,
    );

    const sendFinished = () => {
      for (const msg of builder.take()) {
        const ticket = commits.hold(msg.records + msg.skipped);
        transport.send(msg, () => commits.settle(ticket));
      }
    };
    // A message that is not full waits for the next batches, up to `delay` ms from its first record: conntrack
    // events may come a few per read, and a datagram per read would cost a send per flow or two. The delay is
    // longer than the source's read cycle, so at a steady rate the next batch fills the message: no datagram
    // and no wake-up of its own (each costs more than the records it carries).
    const delay = o.ipfixdelay;
    let timer: NodeJS.Timeout | null = null;
    const sendOpen = () => {
      if (timer) clearTimeout(timer);
      timer = null;
      builder.finish();
      sendFinished();
    };
    const left = () => delay - (performance.now() - builder.openedAt);
    // The message open now may be younger than the one the timer was set for (that one filled): it waits on.
    const onTimer = () => {
      timer = null;
      if (builder.open && left() >= 1) timer = setTimeout(onTimer, left());
      else sendOpen();
    };

    return {
      async start() {
        await transport.start();
      },
      write(rec) {
        if (encoder.encode(rec, builder)) return;
        // Left out by design (no IP flow): dropped, with the reason as a named counter.
        ctx.counters.dropped++;
        ctx.counters.add('skipped');
        if (!builder.skip()) commits.now(1);
      },
      endBatch() {
        if (delay === 0) return sendOpen();
        sendFinished();
        if (builder.open && !timer) timer = setTimeout(onTimer, Math.max(0, left()));
      },
      busy: () => transport.waitingBytes > o.ipfixbuffer / 2,
      async flush() {
        sendOpen();
        await transport.flush();
      },
      async close() {
        sendOpen();
        await transport.close();
      },
    };
  },
});
