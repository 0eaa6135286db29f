/** One LOGEMU line: syslog-style time and host, then the kernel LOG line for the packet. */
import type { Key, OutputContext, Record } from 'specter/plugin';
import { PacketLine } from '../../shared/kernel-log/packet-line.js';

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => (n < 10 ? '0' + n : String(n));

/** "Nov 22 15:04:05" (day padded with a space, as syslog writes it) for a time in seconds. */
function syslogTime(sec: number): string {
  const d = new Date(sec * 1000);
  const day = d.getDate();
  return `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

export class LineBuilder {
  /** The sensor's name (the host name unless the global `sensor` says otherwise), or at a collector the record's. */
  private readonly host: string;
  private readonly sensorName: Key | undefined;
  private lastHost = '';
  private readonly packet: PacketLine;
  private readonly sec: Key;
  private lastSec = -1;
  private lastStamp = '';

  constructor(ctx: OutputContext) {
    this.packet = new PacketLine(ctx);
    this.sec = ctx.key('oob.time.sec');
    this.host = ctx.sensor;
    this.sensorName = ctx.optionalKey('sensor.name');
  }

  line(rec: Record): string {
    const sec = rec.present[this.sec.slot] ? (rec.values[this.sec.slot] as number) : Math.floor(Date.now() / 1000);
    const host = this.sensorName && rec.present[this.sensorName.slot] ? (rec.values[this.sensorName.slot] as string) : this.host;
    if (sec !== this.lastSec || host !== this.lastHost) {
      this.lastStamp = `${syslogTime(sec)} ${host} `;
      this.lastSec = sec;
      this.lastHost = host;
    }
    return this.lastStamp + this.packet.line(rec);
  }
}
