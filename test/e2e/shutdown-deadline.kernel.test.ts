/**
 * SIGTERM with an output that cannot finish: an EXEC command that hangs.
 * The daemon exits within `shutdowntimeout` plus a small margin, kills the
 * hung command and counts its records as dropped, while a file and an SQL
 * output of the same group are flushed in full.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomInt } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

const TIMEOUT_S = 2;
const MARGIN_MS = 1500;

/** Pids of processes whose command line is exactly `argv`. */
function pidsOf(argv: string[]): number[] {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (fs.readFileSync(`/proc/${d}/cmdline`, 'latin1') === want) out.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

describe('shutdown deadline', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon | undefined;
  // A duration no other process on the machine uses, to find our command.
  const hang = ['/bin/sleep', `1000.${randomInt(1e9)}`];

  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-deadline');
    ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 6 prefix "dl: "\n }\n}\n');
  });
  after(async () => {
    await daemon?.stop();
    for (const pid of pidsOf(hang)) process.kill(pid, 'SIGKILL');
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('exits in time, kills the hung command and counts it dropped; the other outputs are flushed', async () => {
    const logemu = path.join(dir, 'dl.log');
    const db = path.join(dir, 'dl.sqlite');
    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {
 logfile stderr
 loglevel 3
 shutdowntimeout ${TIMEOUT_S}
}
6 {
 plugin BASE
 plugin EXEC
 execstr "${hang.join(' ')}"
 execmaxchildren 1
 plugin LOGEMU
 logemufile ${logemu}
 plugin SQLITE3
 sqlite3db ${db}
}
`,
      ),
    );
    await daemon.started();
    ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
    // One command runs (and hangs), the two others wait behind it.
    const [child] = await waitFor(
      () => {
        const p = pidsOf(hang);
        return p.length ? p : null;
      },
      5000,
      'the hung command',
    );

    const t0 = Date.now();
    const code = await daemon.stop(30000);
    const took = Date.now() - t0;
    assert.equal(code, 0, daemon.stderr);
    assert.ok(took < TIMEOUT_S * 1000 + MARGIN_MS, `exited after ${took} ms`);
    assert.ok(took >= TIMEOUT_S * 1000 - 100, 'waited for the deadline');
    await waitFor(
      () => !fs.existsSync(`/proc/${child}`) || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${child}/status`, 'utf8')),
      2000,
      'the command to be killed',
    );

    const exec = daemon.counters('EXEC', 6)!;
    assert.deepEqual([exec.received, exec.sent, exec.dropped], [3, 0, 3], 'the running and the waiting commands dropped');
    assert.match(daemon.stderr, /group 6: EXEC not flushed within 2 s: 3 records dropped at close/);

    assert.equal(fs.readFileSync(logemu, 'utf8').split('\n').filter(Boolean).length, 3, 'the file output flushed');
    assert.equal(execFileSync('sqlite3', [db, 'SELECT count(*) FROM ulog']).toString().trim(), '3', 'the SQL output flushed');
    const sql = daemon.counters('SQLITE3', 6)!;
    assert.deepEqual([sql.sent, sql.dropped], [3, 0]);
  });
});
