/**
 * LOGEMU's line for flow records against `conntrack -E -o timestamp` for the
 * same events: NEW, UPDATE and DESTROY of UDP (unreplied, and with a
 * connection mark and a zone), ICMP, ICMPv6 and a TCP connection through its states,
 * ended by `conntrack -D`. Every line is the same but for the time stamp,
 * which is when each program read the event, and may differ a little.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

const split = (l: string): [number, string] => {
  const m = /^\[(\d+)\.(\d{6})\]\t(.*)$/.exec(l) ?? assert.fail(`not a timestamped line: ${JSON.stringify(l)}`);
  return [Number(m[1]) + Number(m[2]) / 1e6, m[3]];
};

describe('LOGEMU flow lines', { timeout: 60_000 }, () => {
  it("equal conntrack -E -o timestamp's for the same events", async () => {
    const ns = new NetNs('spt-nfct-l');
    const dir = tempDir();
    let daemon: Daemon | undefined;
    const events = ns.spawn('stdbuf', ['-oL', 'conntrack', '-E', '-o', 'timestamp']);
    let theirs = '';
    events.stdout!.setEncoding('utf8').on('data', (d: string) => {
      theirs += d;
    });
    try {
      ns.nft(`table inet t {
 chain raw {
  type filter hook output priority raw;
  udp dport 7777 ct zone set 7
 }
 chain out {
  type filter hook output priority 0;
  udp dport 7777 ct mark set 42
  ct state new counter
 }
}
`);
      for (const s of ['net.netfilter.nf_conntrack_acct=1', 'net.netfilter.nf_conntrack_timestamp=1']) ns.exec('sysctl', ['-qw', s]);
      const logfile = path.join(dir, 'flows.log');
      daemon = new Daemon(
        ns,
        writeConfig(
          dir,
          `global {\n logfile stderr\n loglevel 3\n}\n1 {\n source NFCT\n ctevents new,update,destroy\n plugin LOGEMU\n logemufile ${logfile}\n logemusync\n}\n`,
        ),
      );
      await daemon.started();
      // conntrack -E may start listening late on a busy machine: probe flows (to port 4999, left out of the comparison) until it prints.
      for (let i = 0; !theirs.includes('dport=4999'); i++) {
        assert.ok(i < 100, 'conntrack -E prints events');
        ns.exec('python3', [
          '-c',
          `import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\ns.bind(('127.0.0.1', ${4000 + i}))\ns.sendto(b'p', ('127.0.0.1', 4999))\n`,
        ]);
        await new Promise((r) => setTimeout(r, 100));
      }
      ns.exec('python3', [
        '-c',
        String.raw`
import socket, threading, time, subprocess
for port in (5000, 7777):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.sendto(b'hi', ('127.0.0.1', port))
subprocess.run(['ping', '-c', '1', '127.0.0.1'], stdout=subprocess.DEVNULL)
subprocess.run(['ping', '-6', '-c', '1', '::1'], stdout=subprocess.DEVNULL)
l = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
l.bind(('127.0.0.1', 8080)); l.listen(1)
def serve():
    c, _ = l.accept(); c.sendall(c.recv(100)); c.close()
threading.Thread(target=serve).start()
c = socket.create_connection(('127.0.0.1', 8080)); c.sendall(b'hello')
while c.recv(100): pass
c.close()
time.sleep(0.3)
`,
      ]);
      ns.exec('conntrack', ['-D']);
      const ours = (l: string) => l.startsWith('[') && !l.includes('dport=4999 ');
      const count = () => theirs.split('\n').filter(ours).length;
      const mine = () => (fs.existsSync(logfile) ? fs.readFileSync(logfile, 'utf8').split('\n').filter(ours) : []);
      await waitFor(() => count() >= 10 && mine().length >= count(), 10_000, `the lines (conntrack ${count()}, LOGEMU ${mine().length})`);
      await new Promise((r) => setTimeout(r, 300));
      // conntrack names the deleting process from /proc when it is still alive (progname=): not part of the event.
      const a = theirs
        .split('\n')
        .filter(ours)
        .map((l) => l.replace(/ progname=\S+/, ''))
        .map(split);
      const b = mine().map(split);
      assert.deepEqual(b.map(([, body]) => body).sort(), a.map(([, body]) => body).sort());
      for (const kind of [
        '[NEW] udp',
        '[UPDATE] tcp',
        '[DESTROY] tcp',
        '[DESTROY] icmpv6',
        'mark=42 zone=7',
        '[UNREPLIED]',
        '[ASSURED]',
        'delta-time=',
        '[USERSPACE] portid=',
      ]) {
        assert.ok(
          b.some(([, body]) => body.includes(kind)),
          `a line with ${kind}`,
        );
      }
      // The same event read by two programs: the times are close (DESTROY's is the kernel's stop time, NEW's the arrival).
      for (const [t, body] of b) {
        const [u] = a.find(([, other]) => other === body)!;
        assert.ok(Math.abs(t - u) < 2, `${body}: ${t} and ${u}`);
      }
    } finally {
      events.kill('SIGINT');
      if (daemon) await daemon.stop();
      ns.delete();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
