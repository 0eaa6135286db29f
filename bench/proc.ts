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

/** Peak resident set size (VmHWM) in MB. */
export function peakRssMb(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}
