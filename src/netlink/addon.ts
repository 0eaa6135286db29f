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

/** The native UDP socket (native/udp.c documents each method). */
export interface NativeUdpSocket {
  /** Sends buffers[from..] in order: how many the kernel took (> 0), or -errno when buffers[from] could not go. */
  send(buffers: Buffer[], from: number): number;
  /** The MTU of the route to the peer, or -errno. */
  mtu(): number;
  close(): void;
}

export interface NativeUdpSocketClass {
  /** `address` numeric; `onWritable` runs once after a send returned -EAGAIN and the socket has room again. */
  new (address: string, port: number, onWritable: () => void): NativeUdpSocket;
}

interface Exports {
  NetlinkSocket?: NativeSocketClass;
  UdpSocket?: NativeUdpSocketClass;
}

const METHODS: { [C in keyof Exports]-?: string[] } = {
  NetlinkSocket: ['bind', 'setNetlinkOption', 'setReceiveBuffer', 'receiveBuffer', 'send', 'pause', 'setReadDelay', 'close'],
  UdpSocket: ['send', 'mtu', 'close'],
};

/** The package root: the nearest directory above this module with a package.json (from src/ or dist/src/). */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

const ROOT = packageRoot();
const ADDON_FILE = path.join(ROOT, 'native', 'build', 'Release', 'specter_netlink.node');

let loaded: Required<Exports> | null = null;

/** The addon's classes; throws one line naming the file and the fix when it cannot be used. */
function load(file: string): Required<Exports> {
  if (loaded && file === ADDON_FILE) return loaded;
  const rebuild = `build it with \`node ${path.join(ROOT, 'scripts', 'build-addon.cjs')}\` (needs python3, make and g++)`;
  if (!fs.existsSync(file)) throw new Error(`the netlink addon ${file} is missing (installed with --ignore-scripts?): ${rebuild}`);
  let exports: Exports;
  try {
    exports = createRequire(import.meta.url)(file) as Exports;
  } catch (err) {
    throw new Error(`the netlink addon ${file} cannot be loaded (${(err as Error).message.split('\n')[0]}): ${rebuild}`);
  }
  const lacking: string[] = [];
  for (const [name, methods] of Object.entries(METHODS) as Array<[keyof Exports, string[]]>) {
    const cls = exports[name];
    if (typeof cls !== 'function') lacking.push(name);
    else for (const m of methods) if (typeof cls.prototype[m] !== 'function') lacking.push(`${name}.${m}`);
  }
  if (lacking.length > 0) throw new Error(`the netlink addon ${file} lacks ${lacking.join(', ')} (a stale or foreign build): ${rebuild}`);
  const classes = exports as Required<Exports>;
  if (file === ADDON_FILE) loaded = classes;
  return classes;
}

/** The addon's netlink socket class (checking the whole addon); throws one line naming the file and the fix when it cannot be used. */
export function loadAddon(file = ADDON_FILE): NativeSocketClass {
  return load(file).NetlinkSocket;
}

/** The addon's UDP socket class. */
export function loadUdpAddon(): NativeUdpSocketClass {
  return load(ADDON_FILE).UdpSocket;
}
