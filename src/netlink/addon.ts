/**
 * Loads specter's netlink addon (native/, built by node-gyp at install) and
 * checks that it has every method specter calls: a missing or stale build is
 * one clear line at start-up, not a socket that stops reading later.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The native socket (native/netlink.c documents each method). */
export interface NativeSocket {
  bind(groups: number): number;
  setNetlinkOption(name: number, value: number): void;
  setReceiveBuffer(bytes: number): void;
  receiveBuffer(): number;
  /** Returns 0 or the errno of sendto. */
  send(msg: Buffer): number;
  pause(on: boolean): void;
  setReadDelay(ms: number): void;
  close(): void;
}

export interface NativeSocketClass {
  new (
    protocol: number,
    ends: Int32Array,
    onBatch: (buf: Buffer, count: number) => void,
    onError: (errno: number, times: number) => void,
    maxDatagram?: number,
    shared?: boolean,
  ): NativeSocket;
}

const METHODS: Array<keyof NativeSocket> = ['bind', 'setNetlinkOption', 'setReceiveBuffer', 'receiveBuffer', 'send', 'pause', 'setReadDelay', 'close'];

/** The package root: the nearest directory above this module with a package.json (from src/ or dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

const ROOT = packageRoot();
const ADDON_FILE = path.join(ROOT, 'native', 'build', 'Release', 'specter_netlink.node');

let loaded: NativeSocketClass | null = null;

/** The addon's socket class; throws one line naming the file and the fix when it cannot be used. */
export function loadAddon(file = ADDON_FILE): NativeSocketClass {
  if (loaded && file === ADDON_FILE) return loaded;
  const rebuild = `build it with \`node ${path.join(ROOT, 'scripts', 'build-addon.cjs')}\` (needs python3, make and g++)`;
  if (!fs.existsSync(file)) throw new Error(`the netlink addon ${file} is missing (installed with --ignore-scripts?): ${rebuild}`);
  let exports: { NetlinkSocket?: NativeSocketClass };
  try {
    exports = createRequire(import.meta.url)(file) as typeof exports;
  } catch (err) {
    throw new Error(`the netlink addon ${file} cannot be loaded (${(err as Error).message.split('\n')[0]}): ${rebuild}`);
  }
  const cls = exports.NetlinkSocket;
  const lacking = typeof cls !== 'function' ? ['NetlinkSocket'] : METHODS.filter((m) => typeof cls.prototype[m] !== 'function');
  if (lacking.length > 0) throw new Error(`the netlink addon ${file} lacks ${lacking.join(', ')} (a stale or foreign build): ${rebuild}`);
  if (file === ADDON_FILE) loaded = cls!;
  return cls!;
}
