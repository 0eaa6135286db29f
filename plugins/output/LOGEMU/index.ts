import { FileSink, defineOutput, textFileOutput, putByteText } from 'specter/plugin';
import { FlowLine, isFlowGroup } from '../../shared/flow-line/flow-line.js';
import { LineBuilder } from './line.js';

export default defineOutput({
  name: 'LOGEMU',
  description: "one line per packet in the kernel LOG target format (per flow in conntrack -E's, for flow records), to a file",
  options: {
    logemufile: { type: 'string', default: '/var/log/specter.logemu', description: 'file to append to (or stdout / stderr)' },
    logemusync: { type: 'bool', default: false, description: 'write every batch at once instead of gathering up to 100 ms' },
  },
  create(ctx) {
    // Flow records (source NFCT) have no packet: their line is the one conntrack -E -o timestamp prints.
    const lines = isFlowGroup(ctx) ? new FlowLine(ctx) : new LineBuilder(ctx);
    const sink = new FileSink({ path: ctx.options.logemufile, counters: ctx.counters, log: ctx.log, commit: ctx.commit });
    // The line's bytes as the kernel writes its own: a prefix's bytes unchanged, UTF-8 or not.
    return textFileOutput(sink, ctx.options.logemusync, (rec, out) => {
      const s = lines.line(rec) + '\n';
      out.reserve(s.length * 3);
      out.pos = putByteText(out.buf, out.pos, s);
    });
  },
});
