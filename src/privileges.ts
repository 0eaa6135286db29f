/** Dropping root after the sockets and files are open (`-u USER`), and files owned by that user. */
import fs from 'node:fs';

export interface Account {
  name: string;
  uid: number;
  gid: number;
}

export function lookupUser(user: string): Account {
  const lines = fs.readFileSync('/etc/passwd', 'utf8').split('\n');
  for (const line of lines) {
    const [name, , uid, gid] = line.split(':');
    if (name === user || (/^\d+$/.test(user) && uid === user)) {
      return { name, uid: Number(uid), gid: Number(gid) };
    }
  }
  throw new Error(`unknown user "${user}" (not in /etc/passwd)`);
}

export function dropPrivileges(acct: Account): void {
  const proc = process as NodeJS.Process & { initgroups?: (user: string, gid: number) => void };
  proc.initgroups?.(acct.name, acct.gid);
  process.setgid?.(acct.gid);
  process.setuid?.(acct.uid);
}

export const CAP_NET_ADMIN = 12;

/** Whether the process holds a capability now (false after dropping root without keeping it). */
export function hasCapability(cap: number): boolean {
  try {
    const m = /^CapEff:\s*([0-9a-f]+)$/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    return m !== null && ((BigInt(`0x${m[1]}`) >> BigInt(cap)) & 1n) === 1n;
  } catch {
    return process.geteuid?.() === 0;
  }
}

let owner: Account | null = null;

/** With `-u`: files created from now on while still root are given to this account. */
export function ownNewFiles(acct: Account): void {
  owner = acct;
}

/**
 * Opens a file for appending. A file created while root with `-u` belongs to that user,
 * so that the daemon can open it again after the drop (SIGHUP, a deleted file) and
 * logrotate's `create` without owner copies the right one.
 */
export function openAppend(path: string, mode: number): number {
  if (owner && process.getuid?.() === 0) {
    let fd: number;
    try {
      fd = fs.openSync(path, 'ax', mode);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return fs.openSync(path, 'a', mode);
    }
    try {
      fs.fchownSync(fd, owner.uid, owner.gid);
    } catch (err) {
      fs.closeSync(fd);
      throw err;
    }
    return fd;
  }
  return fs.openSync(path, 'a', mode);
}
