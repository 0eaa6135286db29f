/**
 * A flow record as `conntrack -E -o timestamp` prints an event:
 * "[1700000000.123456]\t[DESTROY] udp      17 28 src=10.0.0.2 dst=... sport=... dport=...
 * packets=1 bytes=31 [UNREPLIED] src=... packets=0 bytes=0 mark=42 delta-time=1 [USERSPACE] portid=123"
 * (libnetfilter_conntrack's default format). Built from the NFCT source's
 * keys; fields whose key is absent are left out, as conntrack leaves out
 * attributes the kernel did not send.
 */
import type { Key, OutputContext, Record } from 'specter/plugin';

const EVENT_NAMES: { [e: number]: string } = { 1: '    [NEW]', 2: ' [UPDATE]', 4: '[DESTROY]' };
const PROTO_NAMES: { [p: number]: string } = { 1: 'icmp', 6: 'tcp', 17: 'udp', 33: 'dccp', 47: 'gre', 58: 'icmpv6', 132: 'sctp', 136: 'udplite' };
const TCP_STATES = ['NONE', 'SYN_SENT', 'SYN_RECV', 'ESTABLISHED', 'FIN_WAIT', 'CLOSE_WAIT', 'LAST_ACK', 'TIME_WAIT', 'CLOSE', 'SYN_SENT2'];
/** The reply direction's ICMP type for a request's (the kernel's invmap): echo, timestamp, info, address mask; ICMPv6 echo and node information. */
const ICMP_REPLY: { [t: number]: number } = { 8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 17: 18, 18: 17 };
const ICMPV6_REPLY: { [t: number]: number } = { 128: 129, 129: 128, 139: 140, 140: 139 };
const IPS_SEEN_REPLY = 1 << 1;
const IPS_ASSURED = 1 << 2;
const IPS_OFFLOAD = 1 << 14;
const IPS_HW_OFFLOAD = 1 << 15;

/** The keys of one direction. */
interface Dir {
  saddr: Key;
  daddr: Key;
  sport?: Key;
  dport?: Key;
  packets?: Key;
  bytes?: Key;
}

/** True when the group's records are flow records (a source such as NFCT), not packets. */
export function isFlowGroup(ctx: OutputContext): boolean {
  const names = new Set(ctx.producedKeys().map((k) => k.name));
  return names.has('ct.event') && names.has('orig.ip.saddr.str') && !names.has('oob.prefix');
}

export class FlowLine {
  private readonly orig: Dir;
  private readonly reply: Dir;
  private readonly k: {
    event: Key;
    proto: Key;
    timeout?: Key;
    state?: Key;
    status?: Key;
    mark?: Key;
    zone?: Key;
    icmpType?: Key;
    icmpCode?: Key;
    icmpId?: Key;
    startSec?: Key;
    startUsec?: Key;
    endSec?: Key;
    endUsec?: Key;
    portid?: Key;
  };

  constructor(ctx: OutputContext) {
    const dir = (d: string): Dir => ({
      saddr: ctx.key(`${d}.ip.saddr.str`),
      daddr: ctx.key(`${d}.ip.daddr.str`),
      sport: ctx.optionalKey(`${d}.l4.sport`),
      dport: ctx.optionalKey(`${d}.l4.dport`),
      packets: ctx.optionalKey(`${d}.raw.pktcount`),
      bytes: ctx.optionalKey(`${d}.raw.pktlen`),
    });
    this.orig = dir('orig');
    this.reply = dir('reply');
    const o = (n: string) => ctx.optionalKey(n);
    this.k = {
      event: ctx.key('ct.event'),
      proto: ctx.key('orig.ip.protocol'),
      timeout: o('ct.timeout'),
      state: o('ct.tcp.state'),
      status: o('ct.status'),
      mark: o('ct.mark'),
      zone: o('ct.zone'),
      icmpType: o('icmp.type'),
      icmpCode: o('icmp.code'),
      icmpId: o('icmp.id'),
      startSec: o('flow.start.sec'),
      startUsec: o('flow.start.usec'),
      endSec: o('flow.end.sec'),
      endUsec: o('flow.end.usec'),
      portid: o('ct.portid'),
    };
  }

  /** The whole line: the event's time stamp, a tab, the body. */
  line(rec: Record): string {
    const k = this.k;
    const v = rec.values;
    const p = rec.present;
    const has = (key: Key | undefined): key is Key => key !== undefined && p[key.slot] === 1;
    const event = v[k.event.slot] as number;
    // The event's time: its end for a destroy, its start for a new flow, else now.
    let sec: number;
    let usec: number;
    if (event === 4 && has(k.endSec)) {
      sec = v[k.endSec.slot] as number;
      usec = has(k.endUsec) ? (v[k.endUsec.slot] as number) : 0;
    } else if (event === 1 && has(k.startSec)) {
      sec = v[k.startSec.slot] as number;
      usec = has(k.startUsec) ? (v[k.startUsec.slot] as number) : 0;
    } else {
      const now = Date.now();
      sec = Math.floor(now / 1000);
      usec = (now % 1000) * 1000;
    }
    return `[${sec}.${String(usec).padStart(6, '0')}]\t${this.body(rec)}`;
  }

  /** The line without its time stamp (what a syslog message carries). */
  body(rec: Record): string {
    const k = this.k;
    const v = rec.values;
    const p = rec.present;
    const has = (key: Key | undefined): key is Key => key !== undefined && p[key.slot] === 1;
    const event = v[k.event.slot] as number;
    const proto = p[k.proto.slot] ? (v[k.proto.slot] as number) : 0;
    let s = '';
    // A table dump (ctpollinterval) prints as conntrack -L does: no event name.
    if (EVENT_NAMES[event]) s += EVENT_NAMES[event] + ' ';
    s += `${(PROTO_NAMES[proto] ?? 'unknown').padEnd(8)} ${proto} `;
    if (has(k.timeout)) s += `${v[k.timeout.slot]} `;
    if (proto === 6 && has(k.state)) s += `${TCP_STATES[v[k.state.slot] as number] ?? 'UNKNOWN'} `;
    const status = has(k.status) ? (v[k.status.slot] as number) : -1;
    s += this.direction(rec, this.orig, proto, false);
    if (status >= 0 && (status & IPS_SEEN_REPLY) === 0) s += '[UNREPLIED] ';
    s += this.direction(rec, this.reply, proto, true);
    if (status >= 0 && (status & IPS_ASSURED) !== 0) s += '[ASSURED] ';
    if (status >= 0 && (status & IPS_OFFLOAD) !== 0) s += (status & IPS_HW_OFFLOAD) !== 0 ? '[HW_OFFLOAD] ' : '[OFFLOAD] ';
    // The kernel sends a mark only when it is set; the record holds 0 for none.
    if (has(k.mark) && v[k.mark.slot] !== 0) s += `mark=${v[k.mark.slot]} `;
    if (has(k.zone)) s += `zone=${v[k.zone.slot]} `;
    if (has(k.startSec) && event !== 1 && event !== 2) {
      const end = event === 4 && has(k.endSec) ? (v[k.endSec.slot] as number) : Math.floor(Date.now() / 1000);
      s += `delta-time=${end - (v[k.startSec.slot] as number)} `;
    }
    if (has(k.portid)) s += `[USERSPACE] portid=${v[k.portid.slot]} `;
    return s.slice(0, -1);
  }

  private direction(rec: Record, d: Dir, proto: number, reply: boolean): string {
    const v = rec.values;
    const p = rec.present;
    let s = `src=${p[d.saddr.slot] ? v[d.saddr.slot] : ''} dst=${p[d.daddr.slot] ? v[d.daddr.slot] : ''} `;
    const k = this.k;
    if (proto === 1 || proto === 58) {
      if (k.icmpType && p[k.icmpType.slot]) {
        const t = v[k.icmpType.slot] as number;
        s += `type=${reply ? ((proto === 1 ? ICMP_REPLY : ICMPV6_REPLY)[t] ?? t) : t} `;
        s += `code=${k.icmpCode && p[k.icmpCode.slot] ? v[k.icmpCode.slot] : 0} `;
        if (k.icmpId && p[k.icmpId.slot]) s += `id=${v[k.icmpId.slot]} `;
      }
    } else if (d.sport && p[d.sport.slot]) {
      s += `sport=${v[d.sport.slot]} dport=${d.dport && p[d.dport.slot] ? v[d.dport.slot] : 0} `;
    }
    if (d.packets && p[d.packets.slot]) s += `packets=${v[d.packets.slot]} bytes=${d.bytes && p[d.bytes.slot] ? v[d.bytes.slot] : 0} `;
    return s;
  }
}
