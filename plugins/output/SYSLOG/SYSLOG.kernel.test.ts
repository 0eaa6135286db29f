/**
 * SYSLOG against a real rsyslogd started by the test: the local socket
 * (absent when specter starts, so messages wait and arrive later), RFC 5424
 * over UDP and over TCP; facility, severity and text are checked.
 */
import assert from 'node:assert/strict';
import { execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

describe('SYSLOG to rsyslog', { timeout: 60000 }, () => {
  let ns: NetNs;
  let dir: string;
  let daemon: Daemon;
  let rsyslog: ChildProcess | undefined;
  let out: string;
  let sock: string;

  before(async () => {
    dir = tempDir();
    out = path.join(dir, 'messages');
    sock = path.join(dir, 'log.sock');
    ns = new NetNs('spt-syslog');
    ns.nft(`table ip t {
  chain input {
    type filter hook input priority 0; policy accept;
    icmp type echo-request log group 1 prefix "viasock: "
    icmp type echo-request log group 2 prefix "viaudp: "
    icmp type echo-request log group 3 prefix "viatcp: "
  }
}`);
    daemon = new Daemon(
      ns,
      writeConfig(
        dir,
        `global {
  logfile stderr
  loglevel 3
}
1 {
  plugin BASE
  plugin SYSLOG
  syslog_socket ${sock}
  syslog_facility local5
  syslog_level warning
}
2 {
  plugin BASE
  plugin SYSLOG
  syslog_host 127.0.0.1
  syslog_port 5514
  syslog_facility daemon
  syslog_level info
}
3 {
  plugin BASE
  plugin SYSLOG
  syslog_host 127.0.0.1
  syslog_port 5515
  syslog_protocol tcp
  syslog_facility local7
  syslog_level err
}
`,
      ),
    );
    await daemon.started();
  });

  after(async () => {
    await daemon?.stop();
    rsyslog?.kill();
    ns.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('delivers facility, severity and the kernel-style line, also after the syslog daemon starts late', async () => {
    // rsyslog is not running yet: the messages must wait.
    ns.exec('ping', ['-c', '2', '-i', '0.2', '127.0.0.1']);
    await new Promise((r) => setTimeout(r, 500));
    assert.match(daemon.stderr, /buffering and retrying/);

    const conf = path.join(dir, 'rsyslog.conf');
    fs.mkdirSync(path.join(dir, 'work'));
    fs.writeFileSync(
      conf,
      `global(workDirectory="${dir}/work")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${sock}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="5514")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="5515")
template(name="t" type="string" string="%syslogfacility-text%.%syslogseverity-text% %programname% %msg%\\n")
*.* action(type="omfile" file="${out}" template="t")
`,
    );
    rsyslog = ns.spawn('rsyslogd', ['-n', '-f', conf, '-i', path.join(dir, 'rsyslog.pid')]);
    await waitFor(() => fs.existsSync(sock), 10000, 'rsyslog to listen');
    await new Promise((r) => setTimeout(r, 500));
    ns.exec('ping', ['-c', '2', '-i', '0.2', '127.0.0.1']);

    const read = () =>
      fs.existsSync(out)
        ? fs
            .readFileSync(out, 'utf8')
            .split('\n')
            .filter((l) => / specter /.test(l))
        : [];
    const lines = await waitFor(
      () => {
        const l = read();
        return l.filter((x) => x.includes('viasock:')).length >= 4 &&
          l.filter((x) => x.includes('viaudp:')).length >= 2 &&
          l.filter((x) => x.includes('viatcp:')).length >= 2
          ? l
          : null;
      },
      15000,
      'the messages in rsyslog',
    );
    const sockLines = lines.filter((x) => x.includes('viasock:'));
    assert.equal(sockLines.length, 4, 'the two buffered messages and the two later ones');
    for (const l of sockLines)
      assert.match(
        l,
        /^local5\.warning specter +viasock: IN=lo OUT= MAC=\S+ SRC=127\.0\.0\.1 DST=127\.0\.0\.1 LEN=84 .*PROTO=ICMP TYPE=8 CODE=0 ID=\d+ SEQ=\d+$/,
      );
    for (const l of lines.filter((x) => x.includes('viaudp:'))) assert.match(l, /^daemon\.info specter +viaudp: IN=lo .*PROTO=ICMP TYPE=8/);
    for (const l of lines.filter((x) => x.includes('viatcp:'))) assert.match(l, /^local7\.err specter +viatcp: IN=lo .*PROTO=ICMP TYPE=8/);
    assert.match(daemon.stderr, /works again/);
  });

  it("sends a prefix's bytes unchanged to the local socket and as UTF-8 text with \\xNN for other bytes in RFC 5424", async () => {
    const prefix = Buffer.concat([Buffer.from('bytes été '), Buffer.from([0xff, 0xc3]), Buffer.from(' 日本: ')]);
    const rule = (group: number) => Buffer.concat([Buffer.from(`add rule ip t input udp dport 5601 log group ${group} prefix "`), prefix, Buffer.from('"\n')]);
    execFileSync('ip', ['netns', 'exec', ns.name, 'nft', '-f', '-'], { input: Buffer.concat([rule(1), rule(2)]) });
    try {
      ns.exec('ncat', ['-u', '-w', '1', '127.0.0.1', '5601'], 'x');
    } catch {
      /* refused */
    }
    const lines = await waitFor(
      () => {
        const all = fs.existsSync(out)
          ? fs
              .readFileSync(out)
              .toString('latin1')
              .split('\n')
              .filter((l) => l.includes('bytes '))
          : [];
        return all.length >= 2 ? all.map((l) => Buffer.from(l, 'latin1')) : null;
      },
      10000,
      'both messages in rsyslog',
    );
    const local = lines.find((l) => l.toString('latin1').startsWith('local5.'))!;
    assert.ok(local.includes(Buffer.concat([prefix, Buffer.from('IN=lo ')])), `local socket: the prefix's bytes (${local.toString('hex')})`);
    const remote = lines.find((l) => l.toString('latin1').startsWith('daemon.'))!;
    assert.ok(remote.toString('utf8').includes('bytes été \\xff\\xc3 日本: IN=lo '), `RFC 5424: UTF-8 text (${remote.toString('utf8')})`);
  });
});
