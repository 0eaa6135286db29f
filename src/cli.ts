/**
 * specter command line: specter [-c FILE] [--check] [-d] [-p PIDFILE] [-u USER] [COMMAND ARGS...]
 * Exit codes: 0 ok, 1 configuration or start-up error, 2 usage error.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import v8 from 'node:v8';
import { ConfigError } from './config/model.js';
import { runDaemon } from './daemon.js';
import { runPluginCommand, splitCommand } from './plugin-commands.js';

// Rows waiting for a database live long enough to reach the old generation
// and die there. By default V8 lets that space grow to several times what is
// alive before it collects, and the resident size climbs well past what the
// daemon holds; a growth factor of 1.3 keeps it near. The flag is read at
// each collection, so setting it here takes effect.
v8.setFlagsFromString('--heap-growing-percent=30');

// A reader that stops early (`specter --check | head -1`) is not an error:
// the rest of the output is dropped and the command ends with its own status.
// Node ignores SIGPIPE, so without this the closed pipe is an unhandled EPIPE.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code !== 'EPIPE') throw err;
});

const USAGE = `Usage: specter [options]
  -c, --configfile FILE  configuration file (default /etc/specter.conf; .yaml/.yml for YAML)
      --check            validate the configuration, print each group's pipeline, open nothing
  -d, --daemon           detach into the background once started
  -p, --pidfile FILE     write the daemon's pid there (default with -d: /run/specter.pid)
  -u, --user USER        drop root privileges after sockets and files are open
  -V, --version          print the version
  -h, --help             this help
Commands, run on what the configuration's outputs wrote:
  nat-lookup ADDR[:PORT] --at TIME [--window 60s] [--format table|csv|json]
                         which inside address and port a NAT address and port stood for
                         at TIME, from the flow table of the source NFCT group (doc/flows.md)
Signals: TERM/INT flush and exit, HUP reopens files, USR1 logs counters.
`;

const DETACHED_CHILD = 'SPECTER_DETACHED_CHILD';

function version(): string {
  // dist/src/cli.js and src/cli.ts sit at different depths below package.json.
  for (const rel of ['../../package.json', '../package.json']) {
    const url = new URL(rel, import.meta.url);
    if (fs.existsSync(url)) return (JSON.parse(fs.readFileSync(url, 'utf8')) as { version: string }).version;
  }
  return 'unknown';
}

async function main(): Promise<number> {
  const split = splitCommand(process.argv.slice(2));
  let args;
  try {
    args = parseArgs({
      args: split.options,
      options: {
        configfile: { type: 'string', short: 'c', default: '/etc/specter.conf' },
        check: { type: 'boolean' },
        daemon: { type: 'boolean', short: 'd' },
        pidfile: { type: 'string', short: 'p' },
        user: { type: 'string', short: 'u' },
        version: { type: 'boolean', short: 'V' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (err) {
    process.stderr.write(`specter: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (args.version) {
    process.stdout.write(`specter ${version()}\n`);
    return 0;
  }
  const configFile = args.configfile!;
  if (split.command !== undefined) return runPluginCommand(configFile, split.command, split.args);
  if (args.daemon && !process.env[DETACHED_CHILD] && !args.check) return detach(args.pidfile ?? '/run/specter.pid');

  const child = process.env[DETACHED_CHILD] !== undefined;
  return runDaemon({
    configFile,
    checkOnly: args.check === true,
    user: args.user,
    pidfile: child ? process.env[DETACHED_CHILD] : args.pidfile,
    onReady: child
      ? () => {
          process.send?.({ ready: true });
          process.disconnect?.();
        }
      : undefined,
  });
}

/** Starts the daemon as a detached child and returns once it reports it is running (or why it is not). */
function detach(pidfile: string): Promise<number> {
  const argv = process.argv.slice(2).filter((a) => a !== '-d' && a !== '--daemon');
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1], ...argv], {
    detached: true,
    stdio: ['ignore', 'ignore', 'ignore', 'ipc'],
    env: { ...process.env, [DETACHED_CHILD]: pidfile },
  });
  return new Promise((resolve) => {
    child.on('message', (m: { ready?: boolean; error?: string }) => {
      if (m.ready) {
        child.unref();
        child.disconnect();
        resolve(0);
      } else if (m.error) {
        process.stderr.write(`${m.error}\n`);
      }
    });
    child.on('exit', (code) => resolve(code ?? 1));
  });
}

function report(err: unknown): void {
  const msg = err instanceof ConfigError ? err.toString() : `specter: ${(err as Error)?.message ?? String(err)}`;
  if (process.env[DETACHED_CHILD] !== undefined && process.send) process.send({ error: msg });
  process.stderr.write(`${msg}\n`);
}

main().then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err) => {
    report(err);
    process.exit(1);
  },
);
