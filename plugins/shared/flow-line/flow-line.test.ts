/**
 * Flow records through a real group with `source NFCT` (put together as the
 * daemon does): SYSLOG sends the conntrack -E line of the event, without its
 * time stamp, as its message, to a UDP collector here.
 */
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../../../test/daemon.js';
import { assembleTest, type GroupNode, type Pos } from '../../../test/output-harness.js';
import { decodeDatagram } from '../../source/NFCT/codec.js';
import { FlowFiller } from '../../source/NFCT/fill.js';
import { Flow } from '../../source/NFCT/flow.js';

const pos = (line: number): Pos => ({ file: 'test.conf', line, col: 1 });

describe('flow records as syslog messages', () => {
  it("SYSLOG sends conntrack -E's line of a DNAT flow's end", async () => {
    const server = dgram.createSocket('udp4');
    await new Promise<void>((r) => server.bind(0, '127.0.0.1', r));
    const got = new Promise<string>((r) => server.once('message', (m) => r(m.toString('utf8'))));
    const o = (name: string, value: string, line: number) => ({ name, value, pos: pos(line), valuePos: pos(line) });
    const group: GroupNode = {
      id: 1,
      pos: pos(1),
      options: [o('source', 'NFCT', 2)],
      plugins: [{ spec: 'SYSLOG', pos: pos(3), options: [o('syslog_host', '127.0.0.1', 4), o('syslog_port', String(server.address().port), 5)] }],
    };
    const { keys, grp, pipeline } = await assembleTest(group);
    const out = grp.outputs[0];
    await out.instance.start?.();
    try {
      const filler = new FlowFiller((n) => (grp.info[0].writes.includes(n) ? keys.get(n) : undefined));
      decodeDatagram(
        fs.readFileSync(path.join(ROOT, 'test', 'fixtures', 'nfct', 'ipv4-udp-dnat-destroy.bin')),
        new Flow(),
        {
          flow: (f) => {
            pipeline.record.clear();
            filler.fill(f, pipeline.record, f.startSec, 0, f.stopSec, 0);
            pipeline.deliver();
          },
        },
        { flows: 0, malformed: 0 },
      );
      pipeline.endBatch();
      const msg = await got;
      assert.match(
        msg,
        /^<\d+>1 \S+ \S+ specter \d+ - - \[DESTROY\] udp {6}17 \d+ src=10\.99\.0\.1 dst=10\.99\.0\.1 sport=\d+ dport=5353 packets=1 bytes=31 \[UNREPLIED\] src=127\.0\.0\.1 dst=10\.99\.0\.1 sport=53 dport=\d+ packets=0 bytes=0 delta-time=2 \[USERSPACE\] portid=\d+$/,
      );
    } finally {
      await out.instance.close();
      server.close();
    }
  });
});
