/**
 * LOGEMU against the component contract: every record written and committed,
 * and on a disk that is full every record dropped with one error per failed write.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-logemu-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('LOGEMU compliance', () => {
  it('writes, counts and commits every record', async () => {
    const file = path.join(dir, 'logemu.log');
    const { flushed, closed } = await checkCompliance('LOGEMU', { logemufile: file }, { expect: { sent: 300, dropped: 0, errors: 0 } });
    assert.equal(closed!.counters.sent, 300);
    assert.equal(flushed.commits.at(-1), 300);
    const lines = fs.readFileSync(file, 'utf8').split('\n').filter(Boolean);
    assert.equal(lines.length, 600);
    assert.match(lines[1], /^.* P: IN=.* MARK=0x1 $/);
  });

  it('on a full disk drops every record and counts each failed write once', async () => {
    const { flushed } = await checkCompliance('LOGEMU', { logemufile: '/dev/full', logemusync: true }, { expect: { sent: 0, dropped: 300 }, flushOnly: true });
    const errors = flushed.counters.errors;
    // 12 batches of 25: a write may take several batches at once, but never fails per record.
    assert.ok(errors >= 1 && errors <= 12, `errors ${errors}`);
  });
});
