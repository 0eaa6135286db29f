/**
 * `specter -c FILE NAME ARGS...`: a command an output plugin of the
 * configuration offers on what it wrote (`nat-lookup` on the flow table of a
 * `source NFCT` group). The command line only finds the output and hands it
 * its configured options; the plugin does the rest.
 */
import path from 'node:path';
import { loadConfig } from './config/load.js';
import { ConfigError, type GroupNode } from './config/model.js';
import { resolveOptions } from './config/options.js';
import { loadPlugin } from './core/loader.js';
import { CommandUsageError } from './core/plugin.js';

/** Options before the command that take a value: the command is the first word that is neither. */
const VALUE_OPTIONS = new Set(['-c', '--configfile', '-p', '--pidfile', '-u', '--user']);

/** Splits the arguments at the command name, if there is one. */
export function splitCommand(argv: readonly string[]): { options: string[]; command?: string; args: string[] } {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (VALUE_OPTIONS.has(a)) {
      i++;
      continue;
    }
    if (a === '--') return { options: argv.slice(0, i), command: argv[i + 1], args: argv.slice(i + 2) };
    if (!a.startsWith('-')) return { options: argv.slice(0, i), command: a, args: argv.slice(i + 1) };
  }
  return { options: [...argv], args: [] };
}

/**
 * Runs `command` for the first output of the configuration that offers it;
 * resolves to the exit code. Every error, in the configuration, the arguments
 * or the command's work, is one line on stderr and exit code 2 (1 belongs to
 * the command: "not found").
 */
export async function runPluginCommand(configFile: string, command: string, args: readonly string[]): Promise<number> {
  try {
    const found = await findCommand(configFile, command);
    try {
      return await found.cmd.run(args, {
        ...found.target,
        write: (text) => {
          process.stdout.write(text);
        },
        say: (text) => {
          process.stderr.write(`${text}\n`);
        },
        usage: (message) => {
          throw new CommandUsageError(message);
        },
      });
    } catch (err) {
      if (!(err instanceof CommandUsageError)) throw err;
      process.stderr.write(`specter ${command}: ${err.message} (usage: specter -c FILE ${command} ${found.cmd.usage})\n`);
      return 2;
    }
  } catch (err) {
    process.stderr.write(`${err instanceof ConfigError ? err.toString() : `specter ${command}: ${(err as Error).message}`}\n`);
    return 2;
  }
}

async function findCommand(configFile: string, command: string) {
  const model = loadConfig(configFile);
  const configDir = path.dirname(path.resolve(configFile));
  const elsewhere: string[] = [];
  for (const group of model.groups) {
    const source = sourceName(group);
    const seen = new Map<string, number>();
    for (const node of group.plugins) {
      const def = await loadPlugin(node.spec, node.pos, configDir);
      const n = (seen.get(def.name) ?? 0) + 1;
      seen.set(def.name, n);
      if (def.kind !== 'output' || !def.commands || !Object.hasOwn(def.commands, command)) continue;
      // A block option goes to every plugin that declares it; a plugin's own options (YAML) come after.
      const nodes = [...group.options.filter((o) => Object.hasOwn(def.options, o.name)), ...node.options];
      const cmd = def.commands[command](resolveOptions(def.options, nodes, def.name, node.pos));
      if (cmd.source && cmd.source.toUpperCase() !== source) {
        elsewhere.push(`${def.name} of group ${group.id} does only in a group with "source ${cmd.source}"`);
        continue;
      }
      return { cmd, target: { name: n === 1 ? def.name : `${def.name}#${n}`, group: group.id } };
    }
  }
  throw new Error(
    elsewhere.length ? `no output of ${configFile} answers it: ${elsewhere.join('; ')}` : `unknown command: no output of ${configFile} offers it`,
  );
}

function sourceName(group: GroupNode): string {
  const v = group.options.filter((o) => o.name === 'source').at(-1)?.value;
  return typeof v === 'string' ? v.toUpperCase() : 'NFLOG';
}
