/**
 * Daemon lifecycle: read and validate the whole config, build every group's
 * pipeline, open outputs and sources, drop privileges, then serve signals:
 * SIGTERM/SIGINT flush every output and exit 0, SIGHUP reopens files,
 * SIGUSR1 logs every counter.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import pino from 'pino';
import { resolveGlobal, type GlobalConfig } from './config/global.js';
import { loadConfig } from './config/load.js';
import { ConfigError } from './config/model.js';
import { assembleGroup, type AssembledGroup } from './core/assemble.js';
import { KeyRegistry } from './core/keys.js';
import { Pipeline, type Stage } from './core/pipeline.js';
import type { Source } from './core/source.js';
import { createLog, type DaemonLog } from './logger.js';
import { loadAddon } from './netlink/addon.js';
import { NFLOG_OPTIONS, nflogSettings } from './nflog/options.js';
import { NflogSource } from './nflog/source.js';
import { checkPidfileRemovable, removePidfile, writePidfile } from './pidfile.js';
import { dropPrivileges, lookupUser, openAppend, ownNewFiles } from './privileges.js';
import { stopGroups } from './shutdown.js';

export interface DaemonOptions {
  configFile: string;
  checkOnly: boolean;
  user?: string;
  pidfile?: string;
  /** Called once everything is open and reading (used by -d to release the parent). */
  onReady?: () => void;
}

interface RunningGroup {
  group: AssembledGroup;
  source?: Source;
}

/** Validates everything and builds the pipelines; opens nothing. */
export async function buildAll(configFile: string, log: Logger, checkOnly: boolean) {
  const model = loadConfig(configFile);
  const global = resolveGlobal(model);
  if (model.groups.length === 0) {
    throw new ConfigError(`no group block in ${configFile}: nothing to log (add a block such as "1 {" with plugins)`);
  }
  const keys = new KeyRegistry();
  const groups: AssembledGroup[] = [];
  for (const g of model.groups) {
    groups.push(await assembleGroup(g, keys, { configFile, log, checkOnly, sourceOptions: NFLOG_OPTIONS, sensor: global.sensor, rmem: global.rmem }));
  }
  return { global, keys, groups };
}

/** The --check report: each group's pipeline with the keys every plugin reads and writes. */
export function describe(groups: AssembledGroup[], global: GlobalConfig): string {
  const out: string[] = [];
  for (const g of groups) {
    if (g.source) out.push(`group ${g.id}: ${g.source.line}`);
    else {
      const s = nflogSettings(g.sourceOptions, global.bufsize);
      out.push(
        `group ${g.id}: NFLOG ${Object.entries(s)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}`,
      );
    }
    for (const st of g.info) {
      const keys = st.kind === 'output' ? st.reads : st.writes;
      const verb = st.kind === 'output' ? 'reads' : 'writes';
      out.push(`  ${st.kind.padEnd(6)} ${st.name.padEnd(10)} ${verb} ${keys.length ? keys.join(' ') : '(nothing)'}`);
    }
  }
  return out.join('\n') + '\n';
}

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  const quiet = pino({ level: 'warn' }, pino.destination(2));
  if (opts.checkOnly) {
    const { global, groups } = await buildAll(opts.configFile, quiet, true);
    process.stdout.write(describe(groups, global));
    process.stdout.write(`${opts.configFile}: OK\n`);
    return 0;
  }

  // The kernel is read through our addon: a missing or stale build is one line, before anything is opened.
  loadAddon();
  // Read the global block first so the daemon's own log goes where the user asked.
  const global = resolveGlobal(loadConfig(opts.configFile));
  const account = opts.user ? lookupUser(opts.user) : undefined;
  // Files created before the drop belong to the user, who reopens them after logrotate.
  if (account) ownNewFiles(account);
  checkWritable(global.logfile);
  const dlog = createLog(global.logfile, global.loglevel);
  const log = dlog.log;
  const { groups, keys } = await buildAll(opts.configFile, log, false);
  const running: RunningGroup[] = groups.map((group) => ({ group }));

  for (const r of running) await startPlugins(r.group, global, log);
  for (const r of running) {
    const g = r.group;
    const pipeline = new Pipeline(g.inputs, g.fanout, keys.size);
    const source =
      g.source?.instance ??
      new NflogSource(g.id, nflogSettings(g.sourceOptions, global.bufsize), { rmem: global.rmem }, log.child({ group: g.id, source: 'NFLOG' }));
    await source.start(pipeline);
    r.source = source;
  }

  // The pid file is written while still root (its directory, e.g. /run, may be root's) and handed to the user.
  if (opts.pidfile) writePidfile(opts.pidfile, account);
  if (account) {
    dropPrivileges(account);
    if (opts.pidfile) checkPidfileRemovable(opts.pidfile, account.name, log);
  }
  // What outputs write from now on is written as the user the daemon runs as: they check it here.
  for (const r of running) await startPlugins(r.group, global, log, 'ready');
  installSignals(running, dlog, opts.pidfile, global.shutdowntimeout);
  log.info({ groups: groups.map((g) => g.id), pid: process.pid }, `specter started: ${groups.length} group(s) reading`);
  opts.onReady?.();
  return -1;
}

/**
 * Opens every plugin of a group ('start'), or lets it check what it will write
 * after the privilege drop ('ready'); with `errignore` a plugin that fails is
 * left out, else it is fatal.
 */
async function startPlugins(g: AssembledGroup, global: GlobalConfig, log: Logger, phase: 'start' | 'ready' = 'start'): Promise<void> {
  const start = async <T extends { start?(): Promise<void>; ready?(): Promise<void> }>(stages: Stage<T>[]) => {
    for (const st of [...stages]) {
      try {
        await st.instance[phase]?.();
      } catch (err) {
        const msg = `group ${g.id}: ${st.name} cannot start: ${(err as Error).message}`;
        if (!global.errignore) throw new ConfigError(msg);
        log.error(`${msg} (errignore: continuing without it)`);
        stages.splice(stages.indexOf(st), 1);
      }
    }
  };
  await start(g.outputs);
  await start(g.inputs);
}

function checkWritable(logfile: string): void {
  if (logfile === 'stdout' || logfile === 'stderr') return;
  try {
    fs.closeSync(openAppend(logfile, 0o640));
  } catch (err) {
    throw new ConfigError(`cannot open logfile ${logfile}: ${(err as Error).message}`);
  }
}

function logCounters(running: RunningGroup[], log: Logger): void {
  for (const { group, source } of running) {
    if (source) log.info({ group: group.id, component: source.name, ...source.counters.snapshot() }, 'counters');
    for (const st of [...group.inputs, ...group.outputs]) {
      log.info({ group: group.id, component: st.name, ...st.counters.snapshot() }, 'counters');
    }
  }
}

function installSignals(running: RunningGroup[], dlog: DaemonLog, pidfile: string | undefined, shutdownTimeout: number): void {
  const log = dlog.log;
  // Counters are asked for explicitly: show them whatever the loglevel.
  const stats = log.child({}, { level: 'info' });
  let stopping = false;

  const shutdown = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: stopping, flushing every output (at most ${shutdownTimeout} s)`);
    await stopGroups(running, shutdownTimeout * 1000, log);
    logCounters(running, stats);
    if (pidfile) removePidfile(pidfile, log);
    log.info({ code }, `specter stopped (exit code ${code})`);
    dlog.flush();
    process.exit(code);
  };

  // A bug must not lose what was accepted: log it, flush every output, exit non-zero.
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, `internal error: ${err.message}`);
    void shutdown('fatal error', 1);
  });

  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGUSR1', () => logCounters(running, stats));
  process.on('SIGHUP', () => {
    log.info('SIGHUP: reopening files');
    dlog.reopen();
    for (const { group } of running) {
      for (const st of group.outputs) {
        st.instance.reopen?.().catch((err) => log.error({ err }, `${st.name} could not reopen its file`));
      }
    }
  });
}
