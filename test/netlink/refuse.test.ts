/**
 * A copy of the built package whose netlink addon is missing or foreign: the
 * daemon refuses to start with one line, before it opens any output.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, tempDir } from '../daemon.js';

describe('the daemon without a usable netlink addon', () => {
  let dir: string;
  before(() => {
    dir = tempDir();
    for (const d of ['bin', 'src', 'plugins']) fs.cpSync(path.join(ROOT, 'dist', d), path.join(dir, 'dist', d), { recursive: true });
    fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
    fs.writeFileSync(path.join(dir, 'specter.conf'), `1 {\n plugin BASE\n plugin LOGEMU\n logemufile ${path.join(dir, 'out.log')}\n}\n`);
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  const run = () =>
    spawnSync(process.execPath, [path.join(dir, 'dist', 'bin', 'specter.js'), '-c', path.join(dir, 'specter.conf')], { encoding: 'utf8', timeout: 20000 });

  it('refuses with one line when the addon was never built', () => {
    const r = run();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^specter: the netlink addon .*\/native\/build\/Release\/specter_netlink\.node is missing .*build-addon\.cjs.*\n$/);
    assert.equal(fs.existsSync(path.join(dir, 'out.log')), false, 'no output opened');
  });

  it('refuses with one line when the addon lacks what specter calls', () => {
    const file = path.join(dir, 'native', 'build', 'Release', 'specter_netlink.node');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    // A real native module that is not ours: better-sqlite3's.
    fs.copyFileSync(
      path.join(path.dirname(createRequire(import.meta.url).resolve('better-sqlite3/package.json')), 'build', 'Release', 'better_sqlite3.node'),
      file,
    );
    const r = run();
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^specter: the netlink addon .* lacks NetlinkSocket, UdpSocket .*\n$/);
    assert.equal(fs.existsSync(path.join(dir, 'out.log')), false, 'no output opened');
  });
});
