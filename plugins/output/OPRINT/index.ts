import { fromText, textFileOutput, FileSink, printableForm, valueToString, defineOutput } from 'specter/plugin';

export default defineOutput({
  name: 'OPRINT',
  description: 'every field of every packet as key=value lines, for debugging',
  options: {
    dumpfile: { type: 'string', default: '/var/log/specter.oprint', description: 'file to append to (or stdout / stderr)' },
  },
  create(ctx) {
    const keys = [...ctx.allKeys()].sort((a, b) => a.slot - b.slot);
    const labels = keys.map((k) => k.name + '=');
    const sink = new FileSink({ path: ctx.options.dumpfile, counters: ctx.counters, log: ctx.log, commit: ctx.commit });
    return textFileOutput(
      sink,
      true,
      fromText((rec) => {
        let s = '===>PACKET BOUNDARY\n';
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i];
          if (!rec.present[k.slot]) continue;
          // One line per field: control characters and bytes that are not UTF-8 as \xNN.
          const v = rec.values[k.slot];
          s += labels[i] + (typeof v === 'string' ? printableForm(v) : valueToString(k.type, v)) + '\n';
        }
        return s;
      }),
    );
  },
});
