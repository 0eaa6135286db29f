import { FileSink } from '../../../src/core/file-sink.js';
import { defineOutput } from '../../../src/core/plugin.js';
import { LineBuilder } from './line.js';
import { fromText, textFileOutput } from '../../../src/core/batched-text.js';

export default defineOutput({
  name: 'LOGEMU',
  description: 'one line per packet in the kernel LOG target format, to a file',
  options: {
    logemufile: { type: 'string', default: '/var/log/specter.logemu', description: 'file to append to (or stdout / stderr)' },
    logemusync: { type: 'bool', default: false, description: 'write every batch at once instead of gathering up to 100 ms' },
  },
  create(ctx) {
    const lines = new LineBuilder(ctx);
    const sink = new FileSink({ path: ctx.options.logemufile as string, counters: ctx.counters, log: ctx.log });
    return textFileOutput(sink, ctx.options.logemusync as boolean, fromText((rec) => lines.line(rec) + '\n'));
  },
});
