/**
 * The pid file (`-p`). It is written as root before the privilege drop and
 * handed to the target user, so the daemon can still clear it at exit:
 * removing a file needs write access to its directory, so with `-u` in a
 * root-owned directory such as /run the file is emptied instead (no stale pid
 * stays behind). A directory the user owns (/run/specter, systemd's
 * RuntimeDirectory=) lets it be removed.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { ConfigError } from './config/model.js';
import type { Account } from './privileges.js';

export function writePidfile(file: string, owner?: Account): void {
  try {
    fs.writeFileSync(file, `${process.pid}\n`, { mode: 0o644 });
    if (owner) fs.chownSync(file, owner.uid, owner.gid);
  } catch (err) {
    throw new ConfigError(`cannot write pidfile ${file}: ${(err as Error).message}`);
  }
}

/** After the drop: says once at start when the pid file will be emptied rather than removed at exit. */
export function checkPidfileRemovable(file: string, user: string, log: Logger): void {
  const dir = path.dirname(path.resolve(file));
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    log.info(
      `pidfile ${file}: ${dir} is not writable by ${user}, so the file is emptied rather than removed at exit (a directory owned by ${user}, e.g. /run/specter, avoids that)`,
    );
  }
}

/** Removes the pid file if it still names this process; empties it when its directory is not writable. */
export function removePidfile(file: string, log: Logger): void {
  try {
    if (fs.readFileSync(file, 'utf8').trim() !== String(process.pid)) return;
  } catch {
    return;
  }
  try {
    fs.rmSync(file);
  } catch {
    try {
      fs.truncateSync(file, 0);
    } catch (err) {
      log.warn(`cannot remove pidfile ${file}: ${(err as Error).message}`);
    }
  }
}
