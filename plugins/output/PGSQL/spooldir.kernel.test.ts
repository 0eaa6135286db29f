/** The spool directory is checked as the -u user, after the privilege drop: one line if it cannot be written, rows kept there if it can. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

const NOBODY = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));

describe('PGSQL spool directory and -u', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    fs.chmodSync(dir, 0o755);
    ns = new NetNs('spt-spooldir');
    ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 8 prefix "spool: "\n }\n}\n');
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const conf = (spooldir: string, name: string) =>
    writeConfig(
      dir,
      `global {\n logfile stderr\n loglevel 3\n}\n8 {\n plugin BASE\n plugin PGSQL\n pgsqlhost /nonexistent\n pgsqlbuffer 1\n pgsqlspooldir ${spooldir}\n}\n`,
      name,
    );

  it('refuses to start, in one line naming the plugin and the option, when the user cannot write it', async () => {
    const root = path.join(dir, 'root-only');
    fs.mkdirSync(root, { mode: 0o700 });
    const d = new Daemon(ns, conf(path.join(root, 'spool'), 'denied.conf'), ['-u', 'nobody']);
    assert.equal(await d.wait(), 1);
    const lines = d.stderr
      .trim()
      .split('\n')
      .filter((l) => !l.startsWith('{'));
    assert.equal(lines.length, 1, d.stderr);
    assert.match(lines[0], /PGSQL.*option "pgsqlspooldir": cannot write .*root-only\/spool: EACCES/);
  });

  it('keeps rows there as the user when it can', async () => {
    const spool = path.join(dir, 'owned');
    fs.mkdirSync(spool);
    fs.chownSync(spool, NOBODY, NOBODY);
    const d = new Daemon(ns, conf(spool, 'owned.conf'), ['-u', 'nobody']);
    await d.started();
    ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
    await waitFor(() => fs.readdirSync(spool).some((f) => f.endsWith('.rows')), 5000, 'a file of waiting rows');
    assert.equal(await d.stop(), 0);
    const files = fs.readdirSync(spool).filter((f) => f.endsWith('.rows'));
    for (const f of files) assert.equal(fs.statSync(path.join(spool, f)).uid, NOBODY);
    assert.match(d.stderr, /3 rows not yet written are kept|1 rows not yet written are kept/);
  });
});
