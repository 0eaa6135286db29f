/**
 * The kernel LOG target's line for a record, from the prefix on:
 * "<prefix>IN=lo OUT= MAC=... SRC=... ". Shared by LOGEMU (which puts time and
 * host before it) and SYSLOG (which sends it as the message).
 */
import type { Key, OutputContext, Record } from 'specter/plugin';
import { ipv4Line, ipv6Line } from './kernel-line.js';

export class PacketLine {
  private readonly k: {
    prefix: Key;
    in: Key;
    out: Key;
    physin?: Key;
    physout?: Key;
    mac: Key;
    family: Key;
    pkt: Key;
    uid?: Key;
    gid?: Key;
    mark?: Key;
  };

  constructor(ctx: OutputContext) {
    this.k = {
      prefix: ctx.key('oob.prefix'),
      in: ctx.key('oob.in'),
      out: ctx.key('oob.out'),
      physin: ctx.optionalKey('oob.physin'),
      physout: ctx.optionalKey('oob.physout'),
      mac: ctx.key('mac.str'),
      family: ctx.key('oob.family'),
      pkt: ctx.key('raw.pkt'),
      uid: ctx.optionalKey('oob.uid'),
      gid: ctx.optionalKey('oob.gid'),
      mark: ctx.optionalKey('oob.mark'),
    };
  }

  line(rec: Record): string {
    const k = this.k;
    const v = rec.values;
    const p = rec.present;
    const inDev = p[k.in.slot] ? (v[k.in.slot] as string) : '';
    let s = (p[k.prefix.slot] ? v[k.prefix.slot] : '') + 'IN=' + inDev + ' OUT=' + (p[k.out.slot] ? v[k.out.slot] : '') + ' ';
    if (k.physin && p[k.physin.slot] && v[k.physin.slot] !== '' && v[k.physin.slot] !== inDev) s += 'PHYSIN=' + v[k.physin.slot] + ' ';
    if (k.physout && p[k.physout.slot] && v[k.physout.slot] !== '' && v[k.physout.slot] !== v[k.out.slot]) s += 'PHYSOUT=' + v[k.physout.slot] + ' ';
    const family = v[k.family.slot] as number;
    if (inDev !== '' && (family === 2 || family === 10)) s += 'MAC=' + (p[k.mac.slot] ? v[k.mac.slot] : '') + ' ';
    if (p[k.pkt.slot]) {
      const b = v[k.pkt.slot] as Uint8Array;
      if (family === 2) s += ipv4Line(b, 0, b.length, true);
      else if (family === 10) s += ipv6Line(b, 0, b.length, true);
      else if (b.length > 0) s += b[0] >> 4 === 6 ? ipv6Line(b, 0, b.length, true) : ipv4Line(b, 0, b.length, true);
    }
    if (k.uid && p[k.uid.slot]) s += 'UID=' + v[k.uid.slot] + ' GID=' + (k.gid && p[k.gid.slot] ? v[k.gid.slot] : 0) + ' ';
    if (k.mark && p[k.mark.slot] && v[k.mark.slot] !== 0) s += 'MARK=0x' + (v[k.mark.slot] as number).toString(16) + ' ';
    return s;
  }
}
