/**
 * SYSLOG: the kernel LOG line of every packet as a syslog message, to the
 * local socket (/dev/log) or to a remote collector per RFC 5424 over UDP or
 * TCP (octet-counting framing, RFC 6587).
 */
import os from 'node:os';
import { byteTextBuffer, textForm, defineOutput, SocketSink } from 'specter/plugin';
import { PacketLine } from '../../shared/kernel-log/packet-line.js';
import { FlowLine, isFlowGroup } from '../../shared/flow-line/flow-line.js';
import { LocalSyslog } from './local-socket.js';

const FACILITIES: { [name: string]: number } = {
  kernel: 0,
  user: 1,
  daemon: 3,
  auth: 4,
  local0: 16,
  local1: 17,
  local2: 18,
  local3: 19,
  local4: 20,
  local5: 21,
  local6: 22,
  local7: 23,
};
const LEVELS: { [name: string]: number } = { emerg: 0, alert: 1, crit: 2, err: 3, warning: 4, notice: 5, info: 6, debug: 7 };
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

export default defineOutput({
  name: 'SYSLOG',
  description: 'kernel-style packet lines as syslog messages, local or remote (RFC 5424)',
  options: {
    syslog_facility: { type: 'enum', default: 'local4', values: Object.keys(FACILITIES), description: 'syslog facility' },
    syslog_level: { type: 'enum', default: 'notice', values: Object.keys(LEVELS), description: 'syslog severity' },
    syslog_socket: { type: 'string', default: '/dev/log', description: 'local syslog socket (datagram), used when no syslog_host is given' },
    syslog_host: { type: 'string', description: 'remote collector: send RFC 5424 messages there instead of the local socket' },
    syslog_port: { type: 'int', default: 514, min: 1, max: 65535, description: 'remote collector port' },
    syslog_protocol: { type: 'enum', default: 'udp', values: ['udp', 'tcp'], description: 'remote transport; tcp uses octet-counting framing' },
    syslog_buffer: {
      type: 'size',
      default: 4 * 1024 * 1024,
      min: 1024,
      description: 'bytes of messages kept while the syslog socket or collector is unavailable',
    },
  },
  create(ctx) {
    const o = ctx.options;
    const pri = FACILITIES[o.syslog_facility] * 8 + LEVELS[o.syslog_level];
    // Flow records (source NFCT) have no packet: their message is conntrack -E's line for the event.
    const flow = isFlowGroup(ctx) ? new FlowLine(ctx) : null;
    const packet = flow ? { line: (rec: Parameters<FlowLine['body']>[0]) => flow.body(rec) } : new PacketLine(ctx);
    const pid = process.pid;
    const host = os.hostname();

    if (o.syslog_host) {
      const tcp = o.syslog_protocol === 'tcp';
      const sink = new SocketSink({ kind: tcp ? 'tcp' : 'udp', host: o.syslog_host, port: o.syslog_port }, o.syslog_buffer, ctx.counters, ctx.log, ctx.commit);
      let batch: Buffer[] = [];
      return {
        async start() {
          sink.start();
        },
        write(rec) {
          // RFC 5424: <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG
          // MSG as UTF-8 text: a byte of a prefix that is not valid UTF-8 is written as \xNN.
          const msg = Buffer.from(`<${pri}>1 ${new Date().toISOString()} ${host} specter ${pid} - - ${textForm(packet.line(rec).trimEnd())}`);
          if (tcp) batch.push(Buffer.from(`${msg.length} `), msg);
          else sink.send(msg, 1);
        },
        endBatch() {
          if (!batch.length) return;
          sink.send(Buffer.concat(batch), batch.length / 2);
          batch = [];
        },
        flush: () => sink.flush(),
        close: () => sink.close(),
      };
    }

    const local = new LocalSyslog(o.syslog_socket, o.syslog_buffer, ctx.counters, ctx.log, ctx.commit);
    return {
      async start() {
        local.start();
      },
      write(rec) {
        // The local socket takes the traditional form: <PRI>Mmm dd hh:mm:ss tag[pid]: message
        const d = new Date();
        const day = d.getDate();
        const t = `${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ${d.toTimeString().slice(0, 8)}`;
        // The kernel's line as bytes, as the kernel's own log has it.
        local.send(byteTextBuffer(`<${pri}>${t} specter[${pid}]: ${packet.line(rec).trimEnd()}`));
      },
      endBatch: () => local.drain(),
      flush: () => local.flush(),
      close: () => local.close(),
    };
  },
});
