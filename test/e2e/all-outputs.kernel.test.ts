/**
 * PCAP, SYSLOG, EXEC and JSON in one group under load; SIGTERM must leave
 * every file complete: no partial pcap record, no partial JSON line.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../daemon.js';
import { NetNs } from '../netns.js';

describe('four outputs in one group', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  before(() => {
    dir = tempDir();
    ns = new NetNs('spt-four');
    ns.nft(`table ip t {
  counter logged { }
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request counter name logged log group 6 prefix "four: "
  }
}`);
  });
  after(() => {
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('runs them together and SIGTERM leaves every file complete', async () => {
    const pcap = path.join(dir, 'four.pcap');
    const json = path.join(dir, 'four.json');
    const marks = path.join(dir, 'exec.out');
    const daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {
  logfile stderr
  loglevel 3
}
6 {
  plugin BASE
  plugin PCAP
  plugin SYSLOG
  plugin EXEC
  plugin JSON
  pcapfile ${pcap}
  syslog_host 127.0.0.1
  syslog_port 5599
  execstr "/bin/sh -c 'echo \\"$0\\" >> ${marks}' %S"
  execmaxrate 1000
  execqueue 200
  jsonfile ${json}
}
`,
      ),
    );
    await daemon.started();
    ns.exec('ping', ['-f', '-c', '2000', '127.0.0.1']);
    // SIGTERM waits for EXEC's queue: 200 commands take seconds where fork is slow.
    assert.equal(await daemon.stop(30000), 0, daemon.stderr);
    const logged = Number(/packets (\d+)/.exec(ns.exec('nft', ['list', 'counter', 'ip', 't', 'logged']))![1]);
    assert.equal(logged, 2000);

    const b = fs.readFileSync(pcap);
    let o = 24;
    let records = 0;
    while (o < b.length) {
      assert.ok(o + 16 <= b.length, 'complete record header');
      o += 16 + b.readUInt32LE(o + 8);
      records++;
    }
    assert.equal(o, b.length, 'no partial pcap record');
    assert.equal(records, logged);

    const text = fs.readFileSync(json, 'utf8');
    assert.ok(text.endsWith('\n'), 'the last JSON line is complete');
    const objs = text
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l));
    assert.equal(objs.length, logged);
    assert.ok(objs.every((x) => x['oob.prefix'] === 'four: '));

    // EXEC ran through its bounded queue: every packet either ran or was counted as dropped.
    const ran = fs.readFileSync(marks, 'utf8').split('\n').filter(Boolean);
    assert.ok(ran.length > 0 && ran.every((l) => l === '127.0.0.1'));
    assert.equal(daemon.counters('EXEC')!.sent, ran.length);
    // One rule for every output: each record received is sent or dropped.
    for (const name of ['PCAP', 'SYSLOG', 'EXEC', 'JSON']) {
      const c = daemon.counters(name)!;
      assert.equal(c.received, logged, `${name} received`);
      assert.equal(c.sent + c.dropped, c.received, `${name}: ${JSON.stringify(c)}`);
    }
  });
});
