/**
 * A plugin outside the tree, written from doc/plugins.md alone: the doc's
 * example modules are taken out of the doc as they are, written to a
 * temporary folder next to an installed copy of the package
 * (node_modules/specter: package.json, the built tree, the addon), and run by
 * that copy's command on kernel packets. `specter/plugin` resolves through
 * the package's `exports`, so the plugins use FileSink from the same module
 * the daemon runs; their files and counters must show every packet.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, ROOT, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

const PINGS = 5;

/** The doc's JavaScript examples that start with a `// name.mjs` line, by file name. */
function docModules(): Map<string, string> {
  const doc = fs.readFileSync(path.join(ROOT, 'doc', 'plugins.md'), 'utf8');
  const out = new Map<string, string>();
  for (const m of doc.matchAll(/```js\n\/\/ ([\w-]+\.mjs)\n([\s\S]*?)```/g)) out.set(m[1], m[2]);
  return out;
}

/** An installed copy of the package in `dir`/node_modules/specter, its dependencies linked. */
function installCopy(dir: string): string {
  const pkg = path.join(dir, 'node_modules', 'specter');
  for (const d of ['bin', 'src', 'plugins']) fs.cpSync(path.join(ROOT, 'dist', d), path.join(pkg, 'dist', d), { recursive: true });
  fs.cpSync(path.join(ROOT, 'native', 'build', 'Release', 'specter_netlink.node'), path.join(pkg, 'native', 'build', 'Release', 'specter_netlink.node'));
  fs.copyFileSync(path.join(ROOT, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(pkg, 'node_modules'));
  return path.join(pkg, 'dist', 'bin', 'specter.js');
}

describe('plugins written from doc/plugins.md run from an installed copy', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon;
  let modules: Map<string, string>;

  before(async () => {
    modules = docModules();
    dir = tempDir('specter-kit-');
    const entry = installCopy(dir);
    for (const [name, code] of modules) fs.writeFileSync(path.join(dir, name), code);
    ns = new NetNs('spt-kit');
    ns.nft(
      'table inet kit {\n  chain input {\n    type filter hook input priority 0; policy accept;\n' +
        '    icmp type echo-request meta mark set 1 log group 1 prefix "kit: "\n  }\n}\n',
    );
    const conf = writeConfig(
      dir,
      `global {\n  logfile stderr\n  loglevel 3\n}\n1 {\n  plugin BASE\n` +
        `  plugin ./markclass.mjs\n  plugin ./myout.mjs\n  myfile ${path.join(dir, 'myout.log')}\n` +
        `  plugin ./markfile.mjs\n  markfile ${path.join(dir, 'markfile.log')}\n}\n`,
    );
    daemon = new Daemon(ns, conf, [], entry);
    await daemon.started();
  });

  after(async () => {
    if (daemon) await daemon.stop();
    ns?.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('the doc has the examples, the output one using FileSink through specter/plugin', () => {
    assert.deepEqual([...modules.keys()].filter((n) => n !== 'commit-queue.mjs').sort(), ['markclass.mjs', 'markfile.mjs', 'myout.mjs']);
    assert.match(modules.get('markfile.mjs')!, /import \{[^}]*FileSink[^}]*\} from 'specter\/plugin'/);
  });

  it('writes every packet with its class and counts it as received and sent', async () => {
    ns.exec('ping', ['-c', String(PINGS), '-i', '0.05', '-W', '1', '127.0.0.1']);
    await waitFor(
      () => fs.existsSync(path.join(dir, 'markfile.log')) && fs.readFileSync(path.join(dir, 'markfile.log'), 'utf8').split('\n').length > PINGS,
      5000,
      'the lines of MARKFILE',
    );
    assert.equal(await daemon.stop(), 0, daemon.stderr);

    const lines = (file: string) => fs.readFileSync(path.join(dir, file), 'utf8').split('\n');
    assert.deepEqual(lines('myout.log'), [...Array(PINGS).fill('127.0.0.1 kit: '), '']);
    assert.deepEqual(lines('markfile.log'), [...Array(PINGS).fill('127.0.0.1 web'), '']);

    for (const name of ['MYOUT', 'MARKFILE']) {
      const c = daemon.counters(name, 1);
      assert.ok(c, `${name} logged its counters: ${daemon.stderr}`);
      assert.equal(c.received, PINGS, name);
      assert.equal(c.sent, PINGS, name);
      assert.equal(c.dropped, 0, name);
      assert.equal(c.errors, 0, name);
    }
    assert.equal(daemon.counters('MARKCLASS', 1)?.errors, 0);
  });
});
