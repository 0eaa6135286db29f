/** A group can be bound by one process only: a second daemon says so in one line. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs } from '../netns.js';

describe('a group already bound', { timeout: 30000 }, () => {
  it('stops a second daemon with a clear error', async () => {
    const dir = tempDir();
    const ns = new NetNs('spt-busy');
    const conf = writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n8 {\n plugin BASE\n plugin LOGEMU\n logemufile ${path.join(dir, 'x.log')}\n}\n`);
    const first = new Daemon(ns, conf);
    try {
      await first.started();
      const second = new Daemon(ns, conf);
      assert.equal(await second.wait(), 1);
      assert.equal(second.stderr.trim(), 'specter: NFLOG group 8 is already bound by another process (is ulogd or another specter running?)');
    } finally {
      await first.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
