/**
 * logrotate with `-u`: the real logrotate, with a configuration of the test's own, moves
 * the output file and the daemon's log file and creates new ones the daemon's user cannot
 * open (root's, mode 0600). The daemon stays alive, keeps every packet in the old files,
 * says once per file what went wrong, and opens the new files at the next SIGHUP.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
const lines = (file: string) => read(file).split('\n').filter(Boolean);
const logged = (file: string) => lines(file).map((l) => JSON.parse(l) as { msg: string; component?: string; [k: string]: unknown });

describe('logrotate with -u', { timeout: 60000 }, () => {
  it('keeps the daemon and every packet when the new files cannot be opened, and opens them at the next SIGHUP', async () => {
    const dir = tempDir();
    fs.chmodSync(dir, 0o755); // the user reopens files by path in it
    const ns = new NetNs('spt-logrotate');
    const uid = Number(execFileSync('id', ['-u', 'nobody'], { encoding: 'utf8' }));
    const gid = Number(execFileSync('id', ['-g', 'nobody'], { encoding: 'utf8' }));
    const out = path.join(dir, 'out.log');
    const logfile = path.join(dir, 'specter.log');
    let daemon: Daemon | undefined;
    const ping = (n: number) => ns.exec('ping', ['-c', String(n), '-i', '0.1', '127.0.0.1']);
    const alive = () => assert.equal(daemon!.proc.exitCode, null, `the daemon exited: ${daemon!.stderr}`);
    try {
      ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 7 prefix "rot: "\n }\n}\n');
      daemon = new Daemon(
        ns,
        writeConfig(dir, `global {\n logfile ${logfile}\n loglevel 3\n}\n7 {\n plugin BASE\n plugin LOGEMU\n logemufile ${out}\n logemusync\n}\n`),
        ['-u', 'nobody'],
      );
      await waitFor(
        () => {
          alive();
          return read(logfile).includes('specter started');
        },
        10000,
        'the daemon to start',
      );
      for (const f of [out, logfile]) assert.deepEqual([fs.statSync(f).uid, fs.statSync(f).gid], [uid, gid], `${f} belongs to the user`);
      ping(3);
      await waitFor(() => lines(out).length === 3, 5000, 'the first lines');

      // A stanza whose `create` makes files the user cannot open.
      const conf = writeConfig(
        dir,
        `${out} ${logfile} {\n rotate 2\n create 0600 root root\n sharedscripts\n postrotate\n  kill -HUP ${daemon.proc.pid}\n endscript\n}\n`,
        'logrotate.conf',
      );
      execFileSync('logrotate', ['-f', '-s', path.join(dir, 'logrotate.state'), conf], { stdio: 'pipe' });
      await waitFor(() => read(`${logfile}.1`).includes('cannot reopen the log file'), 5000, 'the failed reopen in the log');
      ping(3);
      await waitFor(() => lines(`${out}.1`).length === 6, 5000, 'the next lines in the old file');
      alive();
      assert.equal(lines(out).length, 0);
      const msgs = logged(`${logfile}.1`).map((l) => l.msg);
      assert.equal(
        msgs.filter((m) => /^cannot reopen .*out\.log: EACCES.*still writing to the previous file, trying again at the next SIGHUP$/.test(m)).length,
        1,
        msgs.join('\n'),
      );
      assert.equal(
        msgs.filter((m) => /^cannot reopen the log file .*specter\.log: EACCES.*still logging to the previous file/.test(m)).length,
        1,
        msgs.join('\n'),
      );

      // The stanza fixed by hand (`create 0640 nobody ...`): the next SIGHUP opens the new files.
      for (const f of [out, logfile]) fs.chownSync(f, uid, gid);
      daemon.signal('SIGHUP');
      await waitFor(() => logged(`${logfile}.1`).filter((l) => l.msg.startsWith('SIGHUP')).length === 2, 5000, 'the second SIGHUP');
      ping(2);
      await waitFor(() => lines(out).length === 2, 5000, 'lines in the new file');
      alive();
    } finally {
      assert.equal(await daemon?.stop(), 0);
      ns.delete();
    }
    try {
      assert.equal(lines(`${out}.1`).length + lines(out).length, 8, 'every packet in the old or the new file');
      const c = logged(logfile)
        .filter((l) => l.component === 'LOGEMU')
        .at(-1);
      assert.deepEqual([c?.received, c?.sent, c?.dropped], [8, 8, 0], 'counters in the new log file');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
