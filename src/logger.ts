/**
 * The daemon's own log through pino, honouring the global `logfile`
 * (a path, `stdout` or `stderr`) and `loglevel` (1 = most verbose … 8 = only fatal).
 */
import pino, { type Logger } from 'pino';

const LEVELS = ['trace', 'debug', 'info', 'info', 'warn', 'warn', 'error', 'fatal'] as const;

export function pinoLevel(loglevel: number): pino.Level {
  return LEVELS[Math.min(8, Math.max(1, loglevel)) - 1];
}

export interface DaemonLog {
  log: Logger;
  /** Reopens a log file (SIGHUP, logrotate). */
  reopen(): void;
  flush(): void;
}

export function createLog(logfile: string, loglevel: number): DaemonLog {
  const dest = pino.destination({
    dest: logfile === 'stdout' ? 1 : logfile === 'stderr' ? 2 : logfile,
    sync: false,
    mkdir: false,
  });
  const log = pino({ level: pinoLevel(loglevel), base: { name: 'specter' } }, dest);
  return {
    log,
    reopen: () => {
      if (logfile !== 'stdout' && logfile !== 'stderr') dest.reopen();
    },
    flush: () => dest.flushSync(),
  };
}
