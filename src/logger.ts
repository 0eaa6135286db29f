/**
 * The daemon's own log through pino, honouring the global `logfile`
 * (a path, `stdout` or `stderr`) and `loglevel` (1 = most verbose … 8 = only fatal).
 * A log that cannot be written never stops the daemon: the line is lost, the packets are not.
 */
import fs from 'node:fs';
import pino, { type Logger } from 'pino';
import { openAppend } from './privileges.js';

const LEVELS = ['trace', 'debug', 'info', 'info', 'warn', 'warn', 'error', 'fatal'] as const;
/** How often a log file is checked for having been deleted. */
const LINK_CHECK_MS = 1000;

function pinoLevel(loglevel: number): pino.Level {
  return LEVELS[Math.min(8, Math.max(1, loglevel)) - 1];
}

export interface DaemonLog {
  log: Logger;
  /** Reopens a log file (SIGHUP, logrotate); keeps the old one and says so if that fails. */
  reopen(): void;
  flush(): void;
}

export function createLog(logfile: string, loglevel: number): DaemonLog {
  const level = pinoLevel(loglevel);
  if (logfile === 'stdout' || logfile === 'stderr') {
    const dest = pino.destination({ dest: logfile === 'stdout' ? 1 : 2, sync: false });
    // Without a listener, an error of the stream (EPIPE once the reader is gone) would end the process.
    dest.on('error', () => {});
    return { log: pino({ level, base: { name: 'specter' } }, dest), reopen: () => {}, flush: () => dest.flushSync() };
  }
  const file = new LogFile(logfile);
  const log = pino({ level, base: { name: 'specter' } }, file);
  file.report = (msg) => log.error(msg);
  return { log, reopen: () => file.reopen(true), flush: () => {} };
}

/**
 * A log file written one line at a time (the daemon logs little): nothing is in flight
 * when it is reopened, and the old descriptor stays if the new file cannot be opened.
 * A deleted file is noticed within a second of logging and opened anew.
 */
class LogFile {
  private fd: number;
  private nextLinkCheck = 0;
  private failing: string | null = null;
  report: (msg: string) => void = () => {};

  constructor(private readonly path: string) {
    this.fd = openAppend(path, 0o640);
  }

  write(line: string): void {
    if (Date.now() >= this.nextLinkCheck) this.reopenIfDeleted();
    try {
      fs.writeSync(this.fd, line);
    } catch {
      // a full or failing disk: this line is lost
    }
  }

  /** `explicit` (SIGHUP) reports every failure; the automatic retries only a new one. */
  reopen(explicit: boolean): void {
    let fd: number;
    try {
      fd = openAppend(this.path, 0o640);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const code = e.code ?? e.message;
      if (explicit || this.failing !== code) {
        this.failing = code;
        const retry = explicit ? 'at the next SIGHUP' : 'in a second';
        // Reported after the line being written, outside the logger's own call.
        process.nextTick(() => this.report(`cannot reopen the log file ${this.path}: ${e.message}; still logging to the previous file, trying again ${retry}`));
      }
      return;
    }
    this.failing = null;
    fs.closeSync(this.fd);
    this.fd = fd;
  }

  private reopenIfDeleted(): void {
    this.nextLinkCheck = Date.now() + LINK_CHECK_MS;
    let nlink: number;
    try {
      nlink = fs.fstatSync(this.fd).nlink;
    } catch {
      return;
    }
    if (nlink === 0) this.reopen(false);
  }
}
