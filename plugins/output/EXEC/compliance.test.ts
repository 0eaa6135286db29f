/**
 * EXEC against the component contract: a record is committed when its
 * command finished, was refused or dropped. A failed command is an error and
 * its record dropped; a record left out for a missing macro value is dropped
 * and counted as skipped.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { checkCompliance } from '../../../test/compliance.js';
import { tempDir } from '../../../test/daemon.js';

const dir = tempDir('specter-exec-compliance-');
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const FAST = { execmaxrate: 100000, execmaxchildren: 16 };

describe('EXEC compliance', () => {
  it('runs, counts and commits a command per record', async () => {
    const out = path.join(dir, 'ran');
    const script = path.join(dir, 'mark.sh');
    fs.writeFileSync(script, `#!/bin/sh\necho "$1" >> ${out}\n`, { mode: 0o755 });
    const { closed } = await checkCompliance(
      'EXEC',
      { execstr: `${script} %S`, ...FAST },
      { records: 100, batch: 10, expect: { sent: 100, dropped: 0, errors: 0 } },
    );
    const ran = fs.readFileSync(out, 'utf8').split('\n').filter(Boolean);
    // Closed at once, the second run kills what still runs: a command may have written its line first.
    assert.ok(ran.length >= 100 + closed!.counters.sent && ran.length <= 200, `${ran.length} lines`);
    assert.ok(ran.every((l) => l === '127.0.0.1'));
  });

  it('a failing command: its record dropped, one error per command', async () => {
    await checkCompliance(
      'EXEC',
      { execstr: '/bin/false %S', ...FAST },
      { records: 60, batch: 10, expect: { sent: 0, dropped: 60, errors: 60 }, flushOnly: true },
    );
  });

  it('commands beyond the queue: dropped, no error', async () => {
    // One batch: five commands wait in the queue, the fifteen after them do not fit.
    await checkCompliance(
      'EXEC',
      { execstr: '/bin/true %S', execwait: true, execqueue: 5, execmaxrate: 100000 },
      {
        records: 20,
        batch: 20,
        expect: { sent: 5, dropped: 15, errors: 0 },
        flushOnly: true,
      },
    );
  });

  it('records without a value for a macro: dropped and counted as skipped, no error', async () => {
    await checkCompliance('EXEC', { execstr: '/bin/true %s', ...FAST }, { records: 50, expect: { sent: 0, dropped: 50, skipped: 50, errors: 0 } });
  });
});
