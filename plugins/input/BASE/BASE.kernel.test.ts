/**
 * BASE against the kernel: packets logged in the output hook come without a
 * kernel timestamp, so BASE stamps them with the wall clock, to the microsecond.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Daemon, tempDir, writeConfig } from '../../../test/daemon.js';
import { NetNs, waitFor } from '../../../test/netns.js';

const COUNT = 50;

// Sends COUNT datagrams 1 ms apart, payload i+1 bytes long, and prints the
// wall-clock microsecond just before each send.
const SENDER = `
import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(${COUNT}):
    print(time.time_ns() // 1000, flush=True)
    s.sendto(b'x' * (i + 1), ('127.0.0.1', 7301))
    time.sleep(0.001)
`;

describe('BASE in the output hook', { timeout: 60000 }, () => {
  let ns: NetNs;
  let daemon: Daemon;
  let dir: string;
  let json: string;

  before(async () => {
    dir = tempDir();
    json = path.join(dir, 'out.json');
    ns = new NetNs('spt-base');
    ns.nft(`table ip t {
  chain output {
    type filter hook output priority 0; policy accept;
    udp dport 7301 log group 3 prefix "out: "
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
3 {
  plugin BASE
  plugin JSON
  jsonfile ${json}
  jsonsync
  jsonfields oob.hook,oob.time.sec,oob.time.usec,udp.len
}
`,
      ),
    );
    await daemon.started();
  });

  after(async () => {
    await daemon?.stop();
    ns?.delete();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('stamps packets the kernel sent without a time with the wall clock to the microsecond', async () => {
    const sent = ns.exec('python3', ['-'], SENDER).trim().split('\n').map(Number);
    assert.equal(sent.length, COUNT);
    const rows = await waitFor(
      () => {
        const lines = fs.existsSync(json) ? fs.readFileSync(json, 'utf8').split('\n').filter(Boolean) : [];
        return lines.length === COUNT ? lines.map((l) => JSON.parse(l)) : null;
      },
      10000,
      'every packet in the JSON file',
    );

    let subMillisecond = 0;
    for (const r of rows) {
      assert.equal(r['oob.hook'], 3, 'logged in the output hook');
      const i = r['udp.len'] - 9;
      const usec = r['oob.time.usec'];
      assert.ok(Number.isInteger(usec) && usec >= 0 && usec < 1e6, `usec ${usec} in range`);
      const stamp = r['oob.time.sec'] * 1e6 + usec;
      // Read after it was sent, and soon: at microsecond resolution a millisecond
      // clock would put most packets before their own send time.
      assert.ok(stamp >= sent[i], `packet ${i} stamped ${stamp - sent[i]} µs after it was sent`);
      assert.ok(stamp - sent[i] < 5e6, `packet ${i} stamped within 5 s of its send time`);
      if (usec % 1000 !== 0) subMillisecond++;
    }
    // A microsecond clock lands on a whole millisecond once in a thousand reads.
    assert.ok(subMillisecond >= COUNT - 2, `${subMillisecond} of ${COUNT} stamps carry microseconds`);
  });
});
