/**
 * The daemon end to end through the kernel: nft rules in a namespace of the
 * test's own, real traffic on its loopback, specter as a child process.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';
import { SmallDisk } from '../small-disk.js';

const lines = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8').split('\n').filter(Boolean) : []);

describe('daemon with an old-style configuration', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon;

  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-daemon');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request log group 4 prefix "old: "
  }
}`);
  });
  after(async () => {
    await daemon?.stop();
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs plugin paths of the classic specter unchanged and flushes on SIGTERM', async () => {
    const logemu = path.join(dir, 'old.logemu');
    const oprint = path.join(dir, 'old.oprint');
    const conf = writeConfig(
      dir,
      `# specter.conf from the C specter days
global {
\tlogfile stderr
\tloglevel 3
}

4 {
\tplugin /lib/specter/specter_BASE.so
\tplugin /lib/specter/specter_LOGEMU.so
\tplugin /lib/specter/specter_OPRINT.so
\tlogemufile ${logemu}
\tdumpfile ${oprint}
}
`,
    );
    daemon = new Daemon(ns, conf);
    await daemon.started();
    ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
    const code = await daemon.stop();
    assert.equal(code, 0);
    const l = lines(logemu);
    assert.equal(l.length, 3, 'every packet logged, flushed at SIGTERM');
    for (const x of l) assert.match(x, /old: IN=lo OUT= MAC=\S+ SRC=127\.0\.0\.1 DST=127\.0\.0\.1 LEN=84 .* PROTO=ICMP TYPE=8 CODE=0 ID=\d+ SEQ=\d+ $/);
    const dump = fs.readFileSync(oprint, 'utf8');
    assert.equal(dump.split('===>PACKET BOUNDARY\n').length - 1, 3);
    assert.match(dump, /\noob\.prefix=old: \n/);
    assert.match(dump, /\nip\.saddr=127\.0\.0\.1\n/);
    assert.match(dump, /\nicmp\.type=8\n/);
    assert.ok(dump.endsWith('\n'), 'no partial record');
  });
});

describe('an output that cannot write', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let disk: SmallDisk;
  let daemon: Daemon;

  before(() => {
    dir = tempDir();
    disk = new SmallDisk(path.join(dir, 'small'), '256k');
    ns = new NetNs('spt-full');
    ns.nft(`table inet t {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request log group 1 prefix "one: "
    icmp type echo-request log group 2 prefix "two: "
  }
}`);
  });
  after(async () => {
    await daemon?.stop();
    ns.delete();
    disk.unmount();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('logs the error, counts the drops and keeps reading the other groups', async () => {
    const good = path.join(dir, 'one.log');
    const full = path.join(disk.path, 'two.log');
    const conf = writeConfig(
      dir,
      `global {\n logfile stderr\n loglevel 3\n}\n1 {\n plugin BASE\n plugin LOGEMU\n logemufile ${good}\n logemusync\n}\n2 {\n plugin BASE\n plugin LOGEMU\n logemufile ${full}\n logemusync\n}\n`,
    );
    // A full disk: the file can be created, but every write of group 2 fails with ENOSPC.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${path.join(disk.path, 'filler')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      /* disk full */
    }
    daemon = new Daemon(ns, conf);
    await daemon.started();
    ns.exec('ping', ['-c', '3', '-i', '0.2', '127.0.0.1']);
    await waitFor(() => lines(good).length === 3, 5000, 'group 1 to keep logging');
    await waitFor(() => daemon.stderr.includes('cannot write'), 5000, 'the write error in the log');
    daemon.signal('SIGUSR1');
    const c = await waitFor(() => daemon.counters('LOGEMU', 2), 5000, 'counters on SIGUSR1');
    assert.deepEqual([c.received, c.sent, c.dropped], [3, 0, 3]);
    assert.ok(c.errors >= 1);
    const one = daemon.counters('LOGEMU', 1)!;
    assert.deepEqual([one.received, one.sent, one.dropped], [3, 3, 0]);
    assert.equal(daemon.counters('NFLOG group 2', 2)?.received, 3, 'source counters too');
    assert.match(daemon.stderr, /ENOSPC/);

    // Space again: the output recovers by itself.
    fs.rmSync(path.join(disk.path, 'filler'));
    ns.exec('ping', ['-c', '1', '127.0.0.1']);
    await waitFor(() => lines(full).length === 1, 5000, 'group 2 to write again');
    assert.match(daemon.stderr, /works again/);
  });
});

describe('SIGHUP', { timeout: 60000 }, () => {
  it('reopens the output files so logrotate can move them', async () => {
    const dir = tempDir();
    const ns = new NetNs('spt-hup');
    let daemon: Daemon | undefined;
    try {
      ns.nft('table ip t {\n chain input {\n  type filter hook input priority 0;\n  icmp type echo-request log group 3\n }\n}\n');
      const file = path.join(dir, 'rot.log');
      daemon = new Daemon(
        ns,
        writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n3 {\n plugin BASE\n plugin LOGEMU\n logemufile ${file}\n logemusync\n}\n`),
      );
      await daemon.started();
      ns.exec('ping', ['-c', '1', '127.0.0.1']);
      await waitFor(() => lines(file).length === 1, 5000, 'the first line');
      fs.renameSync(file, `${file}.1`);
      daemon.signal('SIGHUP');
      await waitFor(() => fs.existsSync(file), 5000, 'the reopened file');
      ns.exec('ping', ['-c', '2', '-i', '0.2', '127.0.0.1']);
      await waitFor(() => lines(file).length === 2, 5000, 'new lines in the new file');
      assert.equal(lines(`${file}.1`).length, 1);
    } finally {
      await daemon?.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
