/**
 * Loading the netlink addon: a missing file, a module without what specter
 * needs, and a protocol the kernel does not know each give one clear line.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon } from '../../src/netlink/addon.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';
import { ROOT } from '../daemon.js';

const oneLine = (fn: () => unknown, re: RegExp) =>
  assert.throws(fn, (err: Error) => {
    assert.match(err.message, re);
    assert.doesNotMatch(err.message, /\n/);
    return true;
  });

describe('netlink addon', () => {
  it('loads the built addon with every method specter calls', () => {
    assert.equal(typeof loadAddon().prototype.pause, 'function');
  });

  it('refuses a missing file with one line saying how to build it', () => {
    oneLine(() => loadAddon('/nonexistent/specter_netlink.node'), /netlink addon \/nonexistent\/specter_netlink\.node is missing .*build-addon\.cjs/);
  });

  it('refuses an addon that lacks the socket specter needs', () => {
    // A real native module that is not ours: better-sqlite3's.
    const foreign = path.join(path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node');
    oneLine(() => loadAddon(foreign), /netlink addon .*better_sqlite3\.node lacks NetlinkSocket, UdpSocket .*build-addon\.cjs/);
  });

  it('lets the process end on its own with sockets left open (paused) or closed', () => {
    const socket = new URL('../../src/netlink/socket.js', import.meta.url).href;
    const script = `import { NetlinkSocket } from '${socket}';
      const h = { datagram() {}, error() {}, failed() {} };
      const open = new NetlinkSocket(12, h); open.bind(); open.pause(true);
      new NetlinkSocket(12, h);
      const closed = new NetlinkSocket(12, h); closed.bind(); closed.close();`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 10000 });
    assert.equal(r.status, 0, r.stderr);
  });

  it('install step: without a toolchain, one line names the Debian packages and the command', () => {
    const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'specter-path-'));
    try {
      fs.symlinkSync(process.execPath, path.join(bin, 'node'));
      const r = spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'build-addon.cjs')], { encoding: 'utf8', env: { ...process.env, PATH: bin } });
      assert.equal(r.status, 1);
      assert.equal(
        r.stderr,
        'specter: building the netlink addon needs python3, make, g++ and gcc (not found on the PATH): apt-get install -y python3 make g++ gcc\n',
      );
    } finally {
      fs.rmSync(bin, { recursive: true, force: true });
    }
  });

  it('names the protocol and the errno of a socket the kernel refuses', () => {
    oneLine(() => new NetlinkSocket(99, { datagram() {}, error() {}, failed() {} }), /^netlink protocol 99: socket: .*\(EPROTONOSUPPORT\)$/);
  });
});
