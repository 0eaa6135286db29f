/**
 * Dependencies point one way: nothing under src/ imports a plugin (the
 * built-ins reach the core through bin/specter.ts), and a plugin imports the
 * core only through the kit, `specter/plugin`. Reads every source file's
 * import specifiers and lists each one that crosses, with file and line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { ROOT } from './daemon.js';

const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(p));
    else if (/\.(m|c)?ts$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Every relative import of the files under `dir` that lands under `target`, as "file:line: specifier". */
function crossings(dir: string, target: string): string[] {
  const found: string[] = [];
  for (const file of sources(path.join(ROOT, dir))) {
    const text = fs.readFileSync(file, 'utf8');
    for (const m of text.matchAll(SPECIFIER)) {
      const spec = m[1];
      if (!spec.startsWith('.')) continue;
      const to = path.relative(ROOT, path.resolve(path.dirname(file), spec));
      if (to === target || to.startsWith(`${target}/`)) {
        const line = text.slice(0, m.index).split('\n').length;
        found.push(`${path.relative(ROOT, file)}:${line}: ${spec}`);
      }
    }
  }
  return found;
}

test('no file under src/ imports from plugins/', () => {
  const bad = crossings('src', 'plugins');
  assert.deepEqual(bad, [], `src/ must not import plugins (the entry point hands the built-ins over):\n  ${bad.join('\n  ')}`);
});

test("no plugin imports src/ except through the plugin kit ('specter/plugin')", () => {
  const bad = crossings('plugins', 'src');
  assert.deepEqual(bad, [], `import these from 'specter/plugin' instead (add what is missing to src/plugin-api.ts):\n  ${bad.join('\n  ')}`);
});

test("no plugin imports another plugin's folder: what two plugins share lives in plugins/shared", () => {
  const bad: string[] = [];
  for (const kind of fs.readdirSync(path.join(ROOT, 'plugins'), { withFileTypes: true })) {
    if (!kind.isDirectory()) continue;
    for (const name of fs.readdirSync(path.join(ROOT, 'plugins', kind.name), { withFileTypes: true })) {
      if (!name.isDirectory()) continue;
      const own = `plugins/${kind.name}/${name.name}`;
      // Tests may load other plugins as fixtures (BASE for its keys); the plugin's code may not.
      bad.push(
        ...crossings(own, 'plugins').filter((c) => {
          if (/\.test\.ts:/.test(c)) return false;
          const to = path.relative(ROOT, path.resolve(path.dirname(path.join(ROOT, c.split(':')[0])), c.split(': ')[1]));
          return !to.startsWith(`${own}/`) && !to.startsWith('plugins/shared/');
        }),
      );
    }
  }
  assert.deepEqual(bad, [], `move what is shared to plugins/shared/:\n  ${bad.join('\n  ')}`);
});

test('the checks see imports: the entry point imports both sides', () => {
  assert.ok(crossings('bin', 'plugins').length > 0 && crossings('bin', 'src').length > 0);
});
