/**
 * `-d -p FILE -u USER` end to end: the daemon detaches, writes its pid file
 * before dropping root, logs packets as the user, and at SIGTERM clears the
 * pid file and exits 0 without a warning (the unbind the user may no longer
 * send is not one).
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI, NODE_ARGS, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

const NOBODY = 65534;
const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);
const gone = (pid: number) => !fs.existsSync(`/proc/${pid}`) || /^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));

describe('-d -p FILE -u USER', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  const pids: number[] = [];

  before(() => {
    dir = tempDir();
    fs.chmodSync(dir, 0o755);
    ns = new NetNs('spt-priv');
    ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 5 prefix "priv: "\n }\n}\n');
  });
  after(() => {
    for (const pid of pids) if (!gone(pid)) process.kill(pid, 'SIGKILL');
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** Starts the daemon detached as nobody and returns its pid, read from the pid file. */
  async function start(name: string, pidfile: string): Promise<{ pid: number; log: string; out: string }> {
    const log = path.join(dir, `${name}.log`);
    const out = path.join(dir, `${name}.logemu`);
    const conf = writeConfig(
      dir,
      `global {\n logfile ${log}\n loglevel 3\n}\n5 {\n plugin BASE\n plugin LOGEMU\n logemufile ${out}\n logemusync\n}\n`,
      `${name}.conf`,
    );
    const parent = ns.spawn(process.execPath, [...NODE_ARGS, CLI, '-c', conf, '-d', '-p', pidfile, '-u', 'nobody']);
    let stderr = '';
    parent.stderr!.setEncoding('utf8').on('data', (d: string) => {
      stderr += d;
    });
    const code = await new Promise((r) => parent.on('exit', r));
    assert.equal(code, 0, stderr);
    const pid = Number(fs.readFileSync(pidfile, 'utf8'));
    pids.push(pid);
    assert.ok(pid > 0 && !gone(pid), 'the pid file names the running daemon');
    assert.equal(fs.statSync(pidfile).uid, NOBODY, 'the pid file belongs to the user');
    assert.match(fs.readFileSync(`/proc/${pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}\\s+${NOBODY}$`, 'm'));
    return { pid, log, out };
  }

  async function logsAndStops(d: { pid: number; log: string; out: string }): Promise<void> {
    ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
    await waitFor(() => lines(d.out).length === 3, 5000, 'three packets logged as nobody');
    process.kill(d.pid, 'SIGTERM');
    await waitFor(() => gone(d.pid), 10000, 'the daemon to exit');
    const log = lines(d.log).map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.ok(
      log.some((l) => l.msg === 'specter stopped (exit code 0)'),
      'exit code 0',
    );
    assert.deepEqual(
      log.filter((l) => l.level >= 40).map((l) => l.msg),
      [],
      'no warning or error',
    );
  }

  it('removes the pid file at exit when its directory belongs to the user', async () => {
    const run = path.join(dir, 'run');
    fs.mkdirSync(run);
    fs.chownSync(run, NOBODY, NOBODY);
    const pidfile = path.join(run, 'specter.pid');
    const d = await start('owned', pidfile);
    await logsAndStops(d);
    assert.equal(fs.existsSync(pidfile), false, 'pid file removed');
  });

  it("empties the pid file at exit when its directory is root's (like /run)", async () => {
    const pidfile = path.join(dir, 'specter.pid');
    const d = await start('rootdir', pidfile);
    await logsAndStops(d);
    assert.equal(fs.readFileSync(pidfile, 'utf8'), '', 'no stale pid left');
    assert.ok(
      lines(d.log).some((l) => l.includes('is not writable by nobody')),
      'said so at start',
    );
  });
});
