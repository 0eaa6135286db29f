/**
 * An output slower than the traffic: JSON into a FIFO whose reader waits
 * before reading. The source stops reading while the output is busy, packets
 * wait in the kernel's buffer, and every one reaches the file: no drops. An
 * output stuck for longer does not stall the group's other outputs.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs, waitFor } from '../netns.js';

describe('a file output slower than the traffic', { timeout: 90000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-slow');
    ns.nft(`table ip t {
  counter logged { }
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request counter name logged log group 8
  }
}`);
  });
  const counted = () => Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 't', 'logged']))![1]);

  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('pauses reading instead of dropping: every packet reaches the file', async () => {
    const fifo = path.join(dir, 'slow.json');
    const out = path.join(dir, 'out.json');
    execFileSync('mkfifo', [fifo]);
    // The reader opens the FIFO at once and reads nothing for 3 s: the pipe, then JSON's 1 MiB queue, fill up.
    const reader = spawn('sh', ['-c', `exec 3<"${fifo}"; sleep 3; cat <&3 > "${out}"`], { stdio: 'ignore' });
    const readerDone = new Promise((r) => reader.on('exit', r));
    const daemon = new Daemon(
      ns,
      writeConfig(dir, `global {\n logfile stderr\n loglevel 3\n}\n8 {\n plugin BASE\n plugin JSON\n jsonfile ${fifo}\n jsonbuffer 1M\n}\n`),
    );
    await daemon.started();
    ns.exec('ping', ['-f', '-c', '8000', '127.0.0.1']);
    assert.equal(await daemon.stop(60000), 0, daemon.stderr);
    await readerDone;

    const logged = counted();
    assert.equal(logged, 8000);
    const lines = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, logged, `every logged packet is in the file\n${daemon.stderr}`);
    assert.ok(lines.every((l) => JSON.parse(l)['icmp.type'] === 8));

    const json = daemon.counters('JSON')!;
    const source = daemon.counters('NFLOG group 8')!;
    assert.equal(json.dropped, 0);
    assert.ok(source.paused > 0, 'the source paused for the busy output');
    assert.equal(source.seq_gaps + source.enobufs, 0);
  });

  it('reads on when an output stays stuck, so the other outputs of the group keep logging', async () => {
    ns.exec('nft', ['reset', 'counter', 'ip', 't', 'logged']);
    const fifo = path.join(dir, 'stuck.json');
    const out = path.join(dir, 'stuck-out.json');
    const logemu = path.join(dir, 'beside.log');
    execFileSync('mkfifo', [fifo]);
    // This reader waits longer than the longest pause (5 s).
    const reader = spawn('sh', ['-c', `exec 3<"${fifo}"; sleep 9; cat <&3 > "${out}"`], { stdio: 'ignore' });
    const readerDone = new Promise((r) => reader.on('exit', r));
    const daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {\n logfile stderr\n loglevel 3\n}\n8 {\n plugin BASE\n plugin JSON\n plugin LOGEMU\n jsonfile ${fifo}\n jsonbuffer 1M\n logemufile ${logemu}\n}\n`,
        'stuck.conf',
      ),
    );
    await daemon.started();
    ns.exec('ping', ['-f', '-c', '8000', '127.0.0.1']);
    const beside = () => (fs.existsSync(logemu) ? fs.readFileSync(logemu, 'utf8').split('\n').filter(Boolean).length : 0);
    await waitFor(() => beside() === 8000, 8000, 'LOGEMU to have every packet while JSON is stuck');
    assert.ok(daemon.stderr.includes('busy for 5 s'), daemon.stderr);
    assert.equal(await daemon.stop(60000), 0, daemon.stderr);
    await readerDone;

    assert.equal(counted(), 8000);
    const json = daemon.counters('JSON')!;
    assert.equal(json.sent + json.dropped, 8000);
    assert.ok(json.dropped > 0, 'the stuck output dropped what did not fit, and counted it');
    assert.equal(fs.readFileSync(out, 'utf8').split('\n').filter(Boolean).length, json.sent);
    assert.equal(daemon.counters('NFLOG group 8')!.seq_gaps, 0);
  });
});
