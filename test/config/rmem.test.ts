/** The global rmem option: the kernel cannot hold more than 2G, so more is one clear line, not a wrapped size. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { CLI, NODE_ARGS, tempDir, writeConfig } from '../daemon.js';

const dir = tempDir('specter-rmem-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function check(rmem: string) {
  const file = writeConfig(dir, `global {\n rmem ${rmem}\n}\n1 {\n plugin BASE\n plugin OPRINT\n}\n`, `rmem-${rmem}.conf`);
  const r = spawnSync(process.execPath, [...NODE_ARGS, CLI, '-c', file, '--check'], { encoding: 'utf8' });
  return { file, code: r.status, stderr: r.stderr };
}

describe('rmem', () => {
  for (const big of ['4G', '4294967296', '3G']) {
    it(`${big} is refused with the place and the limit`, () => {
      const r = check(big);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `${r.file}:2:7: global option "rmem": ${Number(big) || Number(big.slice(0, -1)) * 1024 ** 3} is out of range 4096-2147483648\n`);
    });
  }

  it('2G, the largest socket buffer the kernel keeps, is accepted', () => {
    const r = check('2G');
    assert.equal(r.code, 0, r.stderr);
  });
});
