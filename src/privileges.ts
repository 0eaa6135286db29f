/** Dropping root after the sockets and files are open (`-u USER`). */
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
