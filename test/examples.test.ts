/**
 * Every example configuration in the repository passes `--check` as it is
 * shipped, without root: found by walking the tree, so a new example is
 * covered as soon as it is added.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CLI, NODE_ARGS, ROOT } from './daemon.js';

const SKIP = new Set(['node_modules', 'dist', 'test']);
const CONFIG = /\.(conf|ya?ml)$/;

/** `*.conf.example`, `*.yaml.example`, and configurations under doc/ or an examples/ folder. */
function isExample(rel: string): boolean {
  const base = path.basename(rel);
  if (/\.(conf|ya?ml)\.example$/.test(base)) return true;
  const dirs = path.dirname(rel).split(path.sep);
  return CONFIG.test(base) && (dirs[0] === 'doc' || dirs.includes('examples'));
}

function examples(dir = ROOT, rel = ''): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const r = path.join(rel, e.name);
    if (e.isDirectory()) return e.name.startsWith('.') || SKIP.has(e.name) ? [] : examples(path.join(dir, e.name), r);
    return e.isFile() && isExample(r) ? [r] : [];
  });
}

/** As nobody when the tests run as root, so that nothing passes only thanks to root. */
function checkAsUser(file: string) {
  const node = [process.execPath, ...NODE_ARGS, CLI, '-c', file, '--check'];
  const [cmd, ...args] = process.getuid?.() === 0 ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', ...node] : node;
  return spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
}

describe('example configurations', () => {
  const found = examples();

  it('include the shipped specter.conf.example', () => {
    assert.ok(found.includes('specter.conf.example'), `found: ${found.join(', ')}`);
  });

  for (const rel of found) {
    it(`${rel} passes --check without root`, () => {
      const r = checkAsUser(path.join(ROOT, rel));
      assert.equal(r.status, 0, `${rel}: ${r.stderr}${r.error ?? ''}`);
      assert.match(r.stdout, new RegExp(`${path.basename(rel).replace(/\./g, '\\.')}: OK\\n`));
    });
  }
});
