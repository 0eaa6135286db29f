/**
 * EXEC: runs a command per packet, e.g. to open a port for a knocker
 * (doc/port-knocking.md). Never through a shell: nothing in a packet can
 * add a command or an argument.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ipToString, type Key, defineOutput, type Record } from 'specter/plugin';
import { parseArg, splitCommand } from './command.js';
import { Runner } from './runner.js';

export default defineOutput({
  name: 'EXEC',
  description: 'runs a command for every packet, with packet fields as arguments',
  options: {
    execstr: { type: 'string', required: true, description: 'the command; macros %I %O %S %D %P %s %d %i, %% for a %' },
    execforce: { type: 'bool', default: false, description: 'run even when a macro has no value, putting "invalid"' },
    execwait: { type: 'bool', default: false, description: 'run one command at a time, in packet order' },
    execmaxchildren: { type: 'int', default: 8, min: 1, max: 1024, description: 'commands running at once at most' },
    execmaxrate: { type: 'int', default: 50, min: 1, max: 100000, description: 'commands started per second at most' },
    execqueue: { type: 'int', default: 1000, min: 1, description: 'commands waiting at most; more are dropped and counted' },
  },
  create(ctx) {
    const o = ctx.options;
    const parsed = (() => {
      try {
        const words = splitCommand(o.execstr);
        if (words.length === 0) throw new Error('empty command');
        if (parseArg(words[0]).macros.length) throw new Error('the program itself cannot come from a packet');
        return { words, templates: words.slice(1).map(parseArg) };
      } catch (err) {
        return ctx.fail((err as Error).message, 'execstr');
      }
    })();
    const { words, templates } = parsed;
    const file = resolveProgram(words[0]) ?? ctx.fail(`"${words[0]}" is not an executable file (nor found in PATH)`, 'execstr');
    const sources = macroSources(ctx.key.bind(ctx), ctx.optionalKey.bind(ctx), new Set(templates.flatMap((t) => t.macros)));
    const force = o.execforce;
    const runner = new Runner(file, o.execwait ? 1 : o.execmaxchildren, o.execmaxrate, o.execqueue, ctx.counters, ctx.log, ctx.commit);

    const value = (m: string, rec: Record): string | undefined => {
      for (const k of sources[m]) {
        if (rec.present[k.slot]) {
          const v = rec.values[k.slot];
          return k.type === 'ipaddr' ? ipToString(v as number | Uint8Array) : String(v);
        }
      }
      return undefined;
    };

    return {
      write(rec) {
        const args: string[] = [];
        for (const t of templates) {
          let s = t.parts[0];
          for (let i = 0; i < t.macros.length; i++) {
            let v = value(t.macros[i], rec);
            if (v === undefined || v === '') {
              if (!force) {
                // No command for this packet, by design: dropped, with the reason counted.
                ctx.counters.dropped++;
                ctx.counters.add('skipped');
                runner.skip();
                return;
              }
              v = 'invalid';
            }
            s += v + t.parts[i + 1];
          }
          args.push(s);
        }
        runner.enqueue(args);
      },
      endBatch: () => runner.pump(),
      flush: () => runner.drain(),
      async close() {
        runner.close();
      },
    };
  },
});

/** The keys that can fill each macro, in order of preference. */
function macroSources(key: (n: string) => Key, optional: (n: string) => Key | undefined, used: Set<string>): { [m: string]: Key[] } {
  const any = (...names: string[]) => names.map(optional).filter((k): k is Key => k !== undefined);
  const out: { [m: string]: Key[] } = {};
  for (const m of used) {
    switch (m) {
      case 'I':
        out[m] = [key('oob.in')];
        break;
      case 'O':
        out[m] = [key('oob.out')];
        break;
      case 'S':
        out[m] = [key('ip.saddr')];
        break;
      case 'D':
        out[m] = [key('ip.daddr')];
        break;
      case 'P':
        out[m] = [key('ip.protocol')];
        break;
      case 's':
        out[m] = any('tcp.sport', 'udp.sport', 'sctp.sport');
        break;
      case 'd':
        out[m] = any('tcp.dport', 'udp.dport', 'sctp.dport');
        break;
      case 'i':
        out[m] = any('icmp.type', 'icmpv6.type');
        break;
    }
    if (out[m].length === 0) key(m === 's' ? 'tcp.sport' : m === 'd' ? 'tcp.dport' : 'icmp.type');
  }
  return out;
}

function resolveProgram(name: string): string | null {
  const candidates = name.includes('/') ? [name] : (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').map((d) => path.join(d, name));
  for (const c of candidates) {
    try {
      fs.accessSync(c, fs.constants.X_OK);
      if (fs.statSync(c).isFile()) return c;
    } catch {
      // not here
    }
  }
  return null;
}
