/**
 * PCAP against the component contract: every record written and committed,
 * also across rotations; a record without packet bytes is dropped and settled.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';
import { outputHarness } from '../../../test/output-harness.js';
import PCAP from './index.js';

const dir = tempDir('specter-pcap-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Records in a pcap file (after its 24-byte header). */
function records(file: string): number {
  const b = fs.readFileSync(file);
  let n = 0;
  for (let o = 24; o < b.length; o += 16 + b.readUInt32LE(o + 8)) n++;
  return n;
}

describe('PCAP compliance', () => {
  it('writes, counts and commits every record', async () => {
    const file = path.join(dir, 'one.pcap');
    await checkCompliance('PCAP', { pcapfile: file }, { expect: { sent: 300, dropped: 0, errors: 0 } });
    assert.equal(records(file), 600);
  });

  it('commits every record across rotations', async () => {
    const sub = path.join(dir, 'rotating');
    fs.mkdirSync(sub);
    await checkCompliance('PCAP', { pcapfile: path.join(sub, 'r.pcap'), pcaprotatesize: 4096, pcapsync: true }, { expect: { sent: 300, dropped: 0 } });
    const files = fs.readdirSync(sub);
    assert.ok(files.length > 2, files.join(' '));
    assert.equal(
      files.reduce((n, f) => n + records(path.join(sub, f)), 0),
      600,
    );
  });

  it('drops a record without packet bytes and settles it after the records before it', async () => {
    const h = await outputHarness(PCAP, { pcapfile: path.join(dir, 'nopacket.pcap') });
    h.packet({ 'raw.pkt': Buffer.from('450000140000000040ff0000c0a80001c0a80002', 'hex') });
    h.packet({});
    assert.equal(h.committed(), 0, 'the first record is still on its way');
    await h.flush();
    assert.deepEqual([h.counters.sent, h.counters.dropped, h.counters.extra.nopacket, h.committed()], [1, 1, 1, 2]);
    await h.instance.close();
  });
});
