/**
 * Loading the netlink addon: a missing file, a module without what specter
 * needs, and a protocol the kernel does not know each give one clear line.
 */
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, it } from 'node:test';
import { loadAddon } from '../../src/netlink/addon.js';
import { NetlinkSocket } from '../../src/netlink/socket.js';

const oneLine = (fn: () => unknown, re: RegExp) => assert.throws(fn, (err: Error) => {
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
    oneLine(() => loadAddon(foreign), /netlink addon .*better_sqlite3\.node lacks NetlinkSocket .*build-addon\.cjs/);
  });

  it('names the protocol and the errno of a socket the kernel refuses', () => {
    oneLine(() => new NetlinkSocket(99, { datagram() {}, error() {}, failed() {} }), /^netlink protocol 99: socket: .*\(EPROTONOSUPPORT\)$/);
  });
});
