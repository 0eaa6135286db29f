/** `npm run demo`, the README's first command after set-up: it runs end to end, and names any missing tool in one line. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { NODE_ARGS, ROOT, tempDir } from '../daemon.js';

const DEMO = NODE_ARGS.length > 0 ? path.join(ROOT, 'scripts', 'demo.ts') : path.join(ROOT, 'dist', 'scripts', 'demo.js');
const dir = tempDir('specter-demo-test-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function demo(env: NodeJS.ProcessEnv = process.env) {
  const r = spawnSync(process.execPath, [...NODE_ARGS, DEMO], { encoding: 'utf8', env, timeout: 60000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('the demo', () => {
  it('logs TCP, UDP, ping and ping6 through LOGEMU and SQLITE3 and prints them', () => {
    const r = demo();
    assert.equal(r.code, 0, r.stderr);
    for (const prefix of ['demo-tcp', 'demo-udp', 'demo-ping', 'demo-ping6']) {
      assert.match(r.stdout, new RegExp(`^ {2}\\S+ +\\d+ [\\d:]+ \\S+ ${prefix}: IN=lo OUT= `, 'm'), prefix);
    }
    assert.match(r.stdout, /\(table ulog, \d+ rows\):/);
    assert.match(r.stdout, /specter stopped \(exit 0\); \d+ packets logged\./);
  });

  it('names every missing tool and its package in one line', () => {
    // A PATH with ip only: nft, ping and ncat are missing.
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const ip = (process.env.PATH ?? '')
      .split(':')
      .map((d) => path.join(d, 'ip'))
      .find((f) => fs.existsSync(f));
    fs.symlinkSync(ip!, path.join(bin, 'ip'));
    const r = demo({ ...process.env, PATH: bin });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'demo failed: nft, ping, ncat not found: run scripts/setup, or apt-get install -y nftables iputils-ping ncat\n');
  });
});
