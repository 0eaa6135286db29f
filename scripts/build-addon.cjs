#!/usr/bin/env node
/*
 * Install step: builds specter's netlink addon (native/) with node-gyp, the one
 * npm bundles. Without a compiler toolchain it says in one line which Debian
 * packages are missing and fails: specter cannot read the kernel without it.
 */
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const dir = path.join(__dirname, '..', 'native');
// Debian package for each tool node-gyp needs.
const TOOLS = [
  ['python3', 'python3'],
  ['make', 'make'],
  ['g++', 'g++'],
  ['cc', 'gcc'],
];

const missing = TOOLS.filter(([tool]) => !onPath(tool)).map(([, pkg]) => pkg);
const list = missing.length > 1 ? `${missing.slice(0, -1).join(', ')} and ${missing.at(-1)}` : missing[0];
if (missing.length > 0) fail(`building the netlink addon needs ${list} (not found on the PATH): apt-get install -y ${missing.join(' ')}`);

const gyp =
  process.env.npm_config_node_gyp ||
  require.resolve('node-gyp/bin/node-gyp.js', { paths: [path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm')] });
// Build against the local Node headers when npm is configured with them (no download).
const nodedir = process.env.npm_config_nodedir || readNpmrc('nodedir');
try {
  execFileSync(process.execPath, [gyp, 'rebuild', '--loglevel=error', ...(nodedir ? [`--nodedir=${nodedir}`] : [])], {
    cwd: dir,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
} catch {
  fail('building the netlink addon (native/) failed: see the compiler output above');
}

function fail(line) {
  process.stderr.write(`specter: ${line}\n`);
  process.exit(1);
}

function onPath(tool) {
  return (process.env.PATH || '').split(path.delimiter).some((d) => {
    try {
      fs.accessSync(path.join(d, tool), fs.constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

function readNpmrc(key) {
  for (const f of [path.join(os.homedir(), '.npmrc'), '/etc/npmrc', '/usr/etc/npmrc']) {
    try {
      const m = new RegExp(`^\\s*${key}\\s*=\\s*(.+)$`, 'm').exec(fs.readFileSync(f, 'utf8'));
      if (m) return m[1].trim();
    } catch {
      // no such file
    }
  }
  return '';
}
