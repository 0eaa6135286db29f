/** Process measurements from /proc: CPU seconds and peak resident memory. */
import fs from 'node:fs';

const TICK = 100; // USER_HZ on Linux

/** CPU seconds of a process and its waited-for children: in user space, and in the kernel on its behalf. */
export function cpuSeconds(pid: number): { user: number; sys: number } {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the command: state is f[0]; utime is field 14 of the whole line = f[11].
  return { user: (Number(f[11]) + Number(f[13])) / TICK, sys: (Number(f[12]) + Number(f[14])) / TICK };
}

/** The machine's CPU time so far, busy and all (seconds, every core): the first line of /proc/stat. */
export function machineCpu(): { busy: number; total: number } {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal: idle and iowait are not busy.
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: (total - f[3] - f[4]) / TICK, total: total / TICK };
}

const POLICIES = ['normal', 'FIFO', 'RR', 'batch', 'ISO', 'idle', 'deadline'];

/** The scheduling policy of a process: "normal", or a real-time one with its priority ("RR 99"). */
export function policyOf(pid: number): string {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rt_priority and policy are fields 40 and 41 of the whole line.
  const policy = POLICIES[Number(f[38])] ?? `policy ${f[38]}`;
  return Number(f[37]) > 0 ? `${policy} ${f[37]}` : policy;
}

function statusMb(pid: number, field: string): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Peak resident set size (VmHWM) in MB. */
export const peakRssMb = (pid: number) => statusMb(pid, 'VmHWM');

/** Resident set size now (VmRSS) in MB. */
export const rssMb = (pid: number) => statusMb(pid, 'VmRSS');

const NETLINK_NETFILTER = 12;

/**
 * The receive buffer of a process's NETLINK_NETFILTER socket as the kernel
 * holds it (`rb` of `ss -m`: twice what setsockopt asked for), the largest if
 * it has several, NaN if none. `inNs` runs a command in the process's network
 * namespace (the socket tables are per namespace). The process's socket inodes
 * give its netlink port ids (/proc/net/netlink), which name its lines in `ss`.
 */
export function netfilterReceiveBuffer(pid: number, inNs: (cmd: string, args: string[]) => string): number {
  const inodes = new Set<string>();
  for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  const ports = new Set<string>();
  // sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode
  for (const line of inNs('cat', ['/proc/net/netlink']).split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (Number(f[1]) === NETLINK_NETFILTER && inodes.has(f[9])) ports.add(f[2]);
  }
  let best = NaN;
  // "nft:name/port  *  skmem:(r0,rb8388608,...)", or "nft:port" when no process has that pid.
  for (const line of inNs('ss', ['-f', 'netlink', '-m']).split('\n')) {
    const m = /\bnft:(?:[^\s/]*\/)?(-?\d+)\s.*skmem:\(r\d+,rb(\d+)/.exec(line);
    if (m && ports.has(m[1]) && !(Number(m[2]) <= best)) best = Number(m[2]);
  }
  return best;
}
