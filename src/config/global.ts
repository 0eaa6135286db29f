/** The `global` block: the daemon's own log and the netlink buffer limits. */
import os from 'node:os';
import type { OptionSpecs } from '../core/plugin.js';
import { ConfigError, type ConfigModel } from './model.js';
import { resolveOptions } from './options.js';

/**
 * The receive buffer is a limit, not an allocation: the kernel takes memory
 * only while packets wait. Large enough that a burst of about a million
 * packets at several hundred thousand a second waits instead of being
 * dropped, yet a small share of a small machine's memory.
 */
export const DEFAULT_RMEM = Math.max(16 << 20, Math.min(256 << 20, Math.floor(os.totalmem() / 16)));

const GLOBAL_OPTIONS: OptionSpecs = {
  logfile: { type: 'string', default: 'stderr', description: 'the daemon log: a file path, stdout or stderr' },
  loglevel: { type: 'int', default: 3, min: 1, max: 8, description: '1 = most verbose ... 8 = only fatal errors' },
  errignore: { type: 'bool', default: false, description: 'leave out a plugin that cannot start instead of stopping' },
  // The kernel keeps a socket buffer size in an int and doubles what it is asked: 2G is the most it holds.
  rmem: {
    type: 'size',
    default: DEFAULT_RMEM,
    min: 4096,
    max: 2 * 1024 ** 3,
    description:
      "netlink receive buffer of each group: kernel memory that holds a burst until it is read, used only while packets wait (default: 1/16 of the memory, 16M to 256M; at most 2G, the kernel's limit)",
  },
  bufsize: { type: 'size', default: 128 * 1024, min: 4096, max: 128 * 1024, description: 'default kernel batch size (nlbufsiz) of every group' },
  shutdowntimeout: {
    type: 'int',
    default: 30,
    min: 1,
    max: 3600,
    description: 'seconds SIGTERM waits for the outputs to flush; then what is left is spooled or counted as dropped',
  },
  sensor: {
    type: 'string',
    default: os.hostname().split('.')[0],
    description: "this machine's name in forwarded records (sensor.name); default: the host name up to its first dot",
  },
};

export interface GlobalConfig {
  logfile: string;
  loglevel: number;
  errignore: boolean;
  rmem: number;
  bufsize: number;
  shutdowntimeout: number;
  sensor: string;
}

export function resolveGlobal(model: ConfigModel): GlobalConfig {
  const nodes = model.global?.options ?? [];
  for (const o of nodes) {
    if (!Object.hasOwn(GLOBAL_OPTIONS, o.name)) {
      throw new ConfigError(`unknown global option "${o.name}": expected one of ${Object.keys(GLOBAL_OPTIONS).join(', ')}`, o.pos);
    }
  }
  const v = resolveOptions(GLOBAL_OPTIONS, nodes, 'global');
  const sensorNode = nodes.filter((o) => o.name === 'sensor').at(-1);
  // It names subjects, message ids and spool files: letters, digits, '-' and '_' only.
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(v.sensor as string)) {
    throw new ConfigError(
      `global option "sensor": "${v.sensor}" must be 1 to 64 letters, digits, - or _${sensorNode ? '' : ' (it comes from the host name: set sensor in the global block)'}`,
      sensorNode?.valuePos,
    );
  }
  return {
    logfile: v.logfile as string,
    loglevel: v.loglevel as number,
    errignore: v.errignore as boolean,
    rmem: v.rmem as number,
    bufsize: v.bufsize as number,
    shutdowntimeout: v.shutdowntimeout as number,
    sensor: v.sensor as string,
  };
}
